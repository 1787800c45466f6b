"""Builders and parsers of Slurm commands and batch_options (pure: no cluster, no database)."""

import shlex

import pytest

from clusters import slurm
from yaptide_site.errors import InvalidInput


def test_array_sbatch_asks_for_tasks_one_to_n_and_a_parsable_id():
    words = slurm.sbatch_array_command(
        script="array.sh", ntasks=4, job_name="yaptide-job", output="logs/task_%a.out", options=["--time=00:10:00"]
    )
    assert words == [
        "sbatch",
        "--parsable",
        "--array=1-4",
        "--job-name=yaptide-job",
        "--output=logs/task_%a.out",
        "--time=00:10:00",
        "array.sh",
    ]


def test_collect_sbatch_depends_on_the_whole_array_whatever_its_end():
    words = slurm.sbatch_collect_command(script="collect.sh", array_id="123", job_name="j", output="logs/c.out")
    assert "--dependency=afterany:123" in words
    assert words[-1] == "collect.sh"


def test_collect_sbatch_refuses_an_array_id_that_is_not_a_number():
    with pytest.raises(slurm.SlurmError):
        slurm.sbatch_collect_command(script="c.sh", array_id="1; rm -rf ~", job_name="j", output="o")


@pytest.mark.parametrize(("output", "job_id"), [("123\n", "123"), ("456;ares\n", "456"), ("warning\n789\n", "789")])
def test_sbatch_parsable_output_gives_the_job_id(output, job_id):
    assert slurm.parse_sbatch_parsable(output) == job_id


@pytest.mark.parametrize("output", ["", "sbatch: error: Batch job submission failed\n"])
def test_sbatch_output_without_an_id_is_an_error(output):
    with pytest.raises(slurm.SlurmError):
        slurm.parse_sbatch_parsable(output)


def test_squeue_asks_for_all_jobs_at_once_machine_readable():
    words = slurm.squeue_command(["12", "7", "12"])
    assert words[:3] == ["squeue", "--noheader", "--array"]
    assert words[-1] == "--jobs=7,12"


def test_squeue_of_a_single_job_names_it_twice_so_a_finished_job_is_not_an_error():
    assert slurm.squeue_command(["5"])[-1] == "--jobs=5,5"


def test_squeue_output_is_parsed_per_array_element_with_pending_ranges_expanded():
    output = "1_1|RUNNING|None\n1_[2-4%2]|PENDING|JobArrayTaskLimit\n2|PENDING|Dependency\n\ngarbage\n"
    jobs = slurm.parse_squeue(output)
    assert jobs["1_1"] == slurm.SlurmJobState("RUNNING", "None")
    assert [jobs[f"1_{n}"].state for n in (2, 3, 4)] == ["PENDING"] * 3
    assert jobs["2"] == slurm.SlurmJobState("PENDING", "Dependency")
    assert len(jobs) == 5


def test_sacct_asks_for_allocations_of_all_jobs_in_one_parsable_call():
    words = slurm.sacct_command(["10", "9"])
    assert {"--noheader", "--parsable2", "--allocations"} <= set(words)
    assert words[-1] == "--jobs=9,10"
    assert any(word.startswith("--format=JobID,State,ExitCode") for word in words)


def test_sacct_output_is_parsed_with_cancel_reasons_and_steps_dropped():
    output = (
        "1_1|COMPLETED|0:0|00:00:02\n"
        "1_2|TIMEOUT|0:15|00:01:00\n"
        "1_2.batch|CANCELLED|0:15|00:01:00\n"
        "2|CANCELLED by 1001|0:0|00:00:00\n"
        "3|FAILED|3:0|00:00:01\n"
    )
    jobs = slurm.parse_sacct(output)
    assert jobs == {
        "1_1": slurm.SlurmJobState("COMPLETED", "0:0"),
        "1_2": slurm.SlurmJobState("TIMEOUT", "0:15"),
        "2": slurm.SlurmJobState("CANCELLED", "0:0"),
        "3": slurm.SlurmJobState("FAILED", "3:0"),
    }
    assert jobs["1_2"].finished and not slurm.SlurmJobState("RUNNING").finished


def test_a_job_missing_from_sacct_is_absent_not_failed():
    assert "1_3" not in slurm.parse_sacct("1_1|COMPLETED|0:0|00:00:02\n")


@pytest.mark.parametrize(("code", "failed"), [("0:0", False), ("3:0", True), ("0:9", True), ("", False)])
def test_exit_codes_say_whether_a_job_failed(code, failed):
    assert slurm.exit_code_failed(code) is failed


def test_scancel_takes_the_array_and_the_collect_job_in_one_command():
    assert slurm.scancel_command(["11", "12"]) == ["scancel", "11", "12"]
    with pytest.raises(slurm.SlurmError):
        slurm.scancel_command(["11", "$(reboot)"])


def test_batch_options_accept_allowed_options_in_every_form():
    options = slurm.parse_batch_options(
        {
            "cluster_name": "ares",
            "array_options": "--time=00:10:00 -p plgrid --mem 2G",
            "array_header": "#SBATCH --account=plgyaptide\n\n#SBATCH --exclusive\n",
            "collect_options": {"time": "00:05:00", "--qos": "normal"},
            "collect_header": "",
        }
    )
    assert options.array_arguments() == ["--time=00:10:00", "--partition=plgrid", "--mem=2G"]
    assert options.array_header_lines() == "#SBATCH --account=plgyaptide\n#SBATCH --exclusive\n"
    assert options.collect_arguments() == ["--time=00:05:00", "--qos=normal"]


@pytest.mark.parametrize(
    ("batch_options", "named"),
    [
        ({"array_options": "--wrap=reboot"}, "--wrap"),
        ({"array_options": "--output=/etc/passwd"}, "--output"),
        ({"collect_options": {"dependency": "afterok:1"}}, "--dependency"),
        ({"array_header": "#SBATCH --time=1\nrm -rf ~"}, "only #SBATCH lines"),
        ({"array_header": "#SBATCH --chdir=/"}, "--chdir"),
        ({"array_options": "--time=$(reboot)"}, "plain value"),
        ({"array_options": "--time='1;2'"}, "plain value"),
        ({"array_options": "sleep"}, "'sleep' is not an sbatch option"),
        ({"array_option": "--time=1"}, "unknown key 'array_option'"),
        ({"array_options": 5}, "must be a string"),
    ],
)
def test_batch_options_outside_the_allow_list_are_refused_by_name(batch_options, named):
    with pytest.raises(InvalidInput, match=named.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        slurm.parse_batch_options(batch_options)


def test_scripts_are_rendered_with_every_slot_filled():
    text = slurm.render_script(
        "array.sh", header="#SBATCH --time=00:01:00\n", job_dir=shlex.quote("/scratch/a b"), prelude="module load x"
    )
    assert "JOB_DIR='/scratch/a b'" in text and "@@" not in text
    assert text.index("#SBATCH --time") < text.index("module load x")
    with pytest.raises(KeyError, match="unfilled"):
        slurm.render_script("array.sh", header="", job_dir="/x")
