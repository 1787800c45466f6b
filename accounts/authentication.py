from rest_framework_simplejwt.authentication import JWTAuthentication

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"


class CookieOrHeaderJWTAuthentication(JWTAuthentication):
    """Our own JWTs, from `Authorization: Bearer` (scripts) or the HttpOnly `access_token` cookie (browsers)."""

    def authenticate(self, request):
        header = self.get_header(request)
        if header is not None:
            return super().authenticate(request)
        raw = request.COOKIES.get(ACCESS_COOKIE)
        if not raw:
            return None
        token = self.get_validated_token(raw.encode())
        return self.get_user(token), token
