"""Times in the admin (lists, read-only fields, history) with seconds and the time zone: 2026-12-01 23:31:05 UTC."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
