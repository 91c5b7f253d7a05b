"""deploy/: the container image, the systemd units and the Kubernetes CronJobs, checked with
the tools that exist here and against the code and the config they drive.

What runs where: hadolint and kubernetes-validate come with the test extras (hadolint on
Linux x86-64 only); systemd-analyze and kubectl are used where the machine has them; a
docker build runs only where a docker daemon answers and the base image is already on the
machine (no container registry is reachable here). Every skip says which.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

import pytest
import yaml

from csi_coach.bot import EXIT_BUSY, build_parser
from csi_coach.config import load_config
from csi_coach.scan.state import StateStore
from support.config import SNOW
from support.paths import ROOT

DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
SERVICE = DEPLOY / "systemd" / "csi-coach-scan.service"
TIMER = DEPLOY / "systemd" / "csi-coach-scan.timer"
SECRETS_ENV = DEPLOY / "systemd" / "secrets.env.example"
KUSTOMIZATION = DEPLOY / "kustomization.yaml"
SECRETS_YAML = DEPLOY / "kubernetes" / "secrets.example.yaml"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    """A tool from this venv (the test extras) or the PATH."""
    here = VENV_BIN / name
    return str(here) if here.exists() else shutil.which(name)


# --- reading the files ------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continued lines joined."""
    found, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        word, _, rest = (pending + stripped).partition(" ")
        found.append((word.upper(), " ".join(rest.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def one(steps: list[tuple[str, str]], word: str) -> str:
    values = [args for w, args in steps if w == word]
    assert len(values) == 1, f"{word}: expected one in the final stage, found {values}"
    return values[0]


def image_env() -> dict[str, str]:
    env = {}
    for args in (a for w, a in final_stage() if w == "ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def image_uid_gid() -> tuple[int, int]:
    uid, _, gid = one(final_stage(), "USER").partition(":")
    return int(uid), int(gid)


def unit_settings(path: Path) -> dict[tuple[str, str], list[str]]:
    """(section, key) -> its values in order (systemd keys may repeat)."""
    settings: dict[tuple[str, str], list[str]] = defaultdict(list)
    section = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            section = stripped.strip("[]")
            continue
        key, _, value = stripped.partition("=")
        settings[(section, key.strip())].append(value.strip())
    return settings


def deploy_config():
    return load_config(DEPLOY / "config.toml")


def secret_names(source) -> set[str]:
    """The environment variables a source's auth names (its *_env keys)."""
    return {getattr(source.auth, f.name) for f in fields(source.auth)
            if f.name.endswith("_env") and getattr(source.auth, f.name)}


def yaml_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict:
    return yaml.safe_load(KUSTOMIZATION.read_text())


def manifests() -> list[dict]:
    return [doc for resource in kustomization()["resources"] for doc in yaml_docs(DEPLOY / resource)]


def cronjobs() -> list[dict]:
    return [doc for doc in manifests() if doc["kind"] == "CronJob"]


def pod_spec(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def cli(argv: list[str]):
    """The arguments as the real command line parses them (a mistake exits 2)."""
    return build_parser(argv[0]).parse_args(argv)


def under(path: str, folder: str) -> bool:
    return PurePosixPath(folder) in PurePosixPath(path).parents


# --- one config for all three ---------------------------------------------------------


def test_the_deploy_config_loads_with_absolute_paths_for_state_and_report():
    config = deploy_config()
    assert [s.name for s in config.sources] == ["servicenow", "jira"]
    assert PurePosixPath(config.state.path).is_absolute()
    assert PurePosixPath(config.report.dir).is_absolute()
    # one folder the bot may write, under the unit's StateDirectory and the CronJob's claim
    assert under(config.state.path, "/var/lib/csi-coach") and under(config.report.dir, "/var/lib/csi-coach")


# --- the container image ----------------------------------------------------------------


def test_the_image_is_slim_python_and_runs_csi_coach_run_as_a_numeric_non_root_user():
    steps = dockerfile_instructions(DOCKERFILE.read_text())
    (base_arg,) = [args for w, args in steps if w == "ARG" and args.startswith("BASE_IMAGE=")]
    base = base_arg.partition("=")[2]
    match = re.fullmatch(r"python:3\.(\d+)-slim", base)
    assert match, base
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert int(match[1]) >= int(re.fullmatch(r">=3\.(\d+)", wanted)[1])
    stage = final_stage()
    assert stage[0] == ("FROM", "${BASE_IMAGE}")
    assert [w for w, _ in stage].count("USER") == 1 and stage[-1][0] in ("CMD", "ENTRYPOINT")
    uid, gid = image_uid_gid()
    assert uid != 0 and gid != 0
    assert f"--uid {uid} --gid {gid}" in one(stage, "RUN").replace("\\", "")
    argv = json.loads(one(stage, "ENTRYPOINT")) + json.loads(one(stage, "CMD"))
    assert argv == ["csi-coach", "run"]
    assert cli(argv[1:]).handler.endswith(":cli") and cli(argv[1:]).command == "run"


def test_state_and_report_are_on_the_image_volumes_and_the_config_is_where_the_others_mount_it():
    config = deploy_config()
    volumes = json.loads(one(final_stage(), "VOLUME"))
    assert str(PurePosixPath(config.state.path).parent) in volumes
    assert config.report.dir in volumes
    env = image_env()
    assert env["CSI_COACH_CONFIG"] == "/etc/csi-coach/config.toml"
    assert env["PATH"].startswith("/opt/csi-coach/bin:")


def test_the_healthcheck_runs_the_health_module_and_follows_the_state_file(tmp_path):
    options, _, command = one(final_stage(), "HEALTHCHECK").partition(" CMD ")
    flags = dict(flag.lstrip("-").split("=") for flag in options.split())
    assert set(flags) == {"interval", "timeout", "start-period", "retries"}
    argv = json.loads(command)
    assert argv[0] == "python"  # the venv's, first on the image's PATH
    argv[0] = sys.executable
    config = tmp_path / "config.toml"
    config.write_text('[state]\npath = "state/csi.sqlite"\n\n' + SNOW)
    env = {**os.environ, "CSI_COACH_CONFIG": str(config)}

    def health() -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)

    before = health()
    assert before.returncode == 1 and before.stdout.startswith("unhealthy: no successful scan yet"), before
    with StateStore(tmp_path / "state" / "csi.sqlite") as store:
        scan = store.begin_scan(["snow"], "v1", now=datetime.now(UTC) - timedelta(minutes=2))
        store.end_scan(scan, "ok", {})
    after = health()
    assert after.returncode == 0 and after.stdout.startswith("healthy: "), after
    assert before.stderr == after.stderr == ""


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves ``path`` out (these patterns: no '!' exceptions)."""
    parts = path.split("/")
    for pattern in patterns:
        anywhere = pattern.startswith("**/")
        pattern = pattern.removeprefix("**/")
        for end in range(1, len(parts) + 1):
            starts = range(end) if anywhere else (0,)
            if any(fnmatch("/".join(parts[start:end]), pattern) for start in starts):
                return True
    return False


def dockerignore_patterns() -> list[str]:
    return [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_the_build_context_leaves_out_what_the_image_must_not_carry_and_keeps_what_pip_reads():
    patterns = dockerignore_patterns()
    assert not any(p.startswith("!") for p in patterns)
    left_out = [".git/config", ".venv/bin/python", ".venv313/lib/x.py", "tests/conftest.py", "bench/b.py",
                "state/csi-coach.sqlite", "state/csi-coach.sqlite-wal", "config.toml", "deploy/config.toml",
                "scan/__pycache__/state.cpython-311.pyc", "csi_coach.egg-info/PKG-INFO", "secrets.env"]
    assert [p for p in left_out if not dockerignore_excludes(p, patterns)] == []
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]
    needed = ["pyproject.toml", "README.md", "__init__.py", "config.example.toml", "rules/default.toml"]
    needed += [p.removeprefix("csi_coach").lstrip(".").replace(".", "/") + "/__init__.py" for p in packages[1:]]
    assert [p for p in needed if dockerignore_excludes(p, patterns)] == []


@pytest.fixture(scope="module")
def hadolint() -> str:
    found = tool("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (the test extras carry it on Linux x86-64 only)")
    return found


def test_hadolint_finds_nothing_in_the_dockerfile(hadolint):
    done = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_hadolint_does_find_what_it_is_there_for(hadolint, tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.13-slim\nRUN pip install requests\nUSER root\nCMD csi-coach run\n")
    done = subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert {"DL3013", "DL3042", "DL3002", "DL3025"} <= set(re.findall(r"DL\d{4}", done.stdout))


def docker_base_image() -> str:
    default = next(args for w, args in dockerfile_instructions(DOCKERFILE.read_text())
                   if w == "ARG" and args.startswith("BASE_IMAGE=")).partition("=")[2]
    return os.environ.get("CSI_COACH_DOCKER_BASE", default)


def test_docker_builds_the_image_and_it_runs_as_its_user(tmp_path):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed here: the Dockerfile is checked by parsing and hadolint only")
    if subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("no docker daemon answers here: the Dockerfile is checked by parsing and hadolint only")
    base = docker_base_image()
    if subprocess.run([docker, "image", "inspect", base], capture_output=True, timeout=60).returncode != 0:
        pytest.skip(f"the base image {base} is not on this machine and no registry is reachable to pull it "
                    "(CSI_COACH_DOCKER_BASE may name a local Debian image with python3 and its venv module)")
    # The context, cut as BuildKit cuts it with deploy/Dockerfile.dockerignore: the classic
    # builder (all a docker without buildx has) reads only a .dockerignore at the root.
    patterns = dockerignore_patterns()
    context = tmp_path / "context"
    shutil.copytree(ROOT, context, symlinks=True, ignore=lambda folder, names: [
        name for name in names if dockerignore_excludes(str((Path(folder) / name).relative_to(ROOT)), patterns)])
    tag = f"csi-coach-test:{os.getpid()}"
    build = subprocess.run([docker, "build", "--network", "host", "-f", str(DOCKERFILE), "--build-arg",
                            f"BASE_IMAGE={base}", "-t", tag, str(context)], capture_output=True, text=True,
                           timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    try:
        version = subprocess.run([docker, "run", "--rm", "--read-only", tag, "--version"], capture_output=True,
                                 text=True, timeout=120)
        assert version.stdout.startswith("csi-coach "), version
        who = subprocess.run([docker, "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True,
                             text=True, timeout=120)
        assert who.stdout.strip() == str(image_uid_gid()[0])
    finally:
        subprocess.run([docker, "image", "rm", "-f", tag], capture_output=True, timeout=120)


# --- systemd ------------------------------------------------------------------------------


def test_the_service_is_a_hardened_oneshot_scan_with_secrets_from_an_environment_file():
    unit = unit_settings(SERVICE)
    service = {key: values for (section, key), values in unit.items() if section == "Service"}
    for key, value in {"Type": "oneshot", "DynamicUser": "yes", "StateDirectory": "csi-coach",
                       "ProtectSystem": "strict", "NoNewPrivileges": "yes", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "UMask": "0077"}.items():
        assert service.get(key) == [value], key
    assert service["EnvironmentFile"] == ["/etc/csi-coach/secrets.env"]
    assert "Environment" not in service and "LoadCredential" not in service  # no secret written in the unit
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == "/opt/csi-coach/bin/csi-coach"
    args = cli(argv[1:])
    assert args.command == "scan" and args.source is None and not args.dry_run
    assert args.config == image_env()["CSI_COACH_CONFIG"]
    config = deploy_config()
    writable = f"/var/lib/{service['StateDirectory'][0]}"
    assert under(config.state.path, writable) and under(config.report.dir, writable)
    assert service["SuccessExitStatus"] == [str(EXIT_BUSY)]


def test_the_timer_starts_the_service_nightly_and_catches_up():
    timer = unit_settings(TIMER)
    assert timer[("Timer", "Unit")] == [SERVICE.name]
    assert timer[("Timer", "Persistent")] == ["true"]
    assert timer[("Install", "WantedBy")] == ["timers.target"]
    (calendar,) = timer[("Timer", "OnCalendar")]
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the calendar expression is not evaluated")
    done = subprocess.run([analyze, "calendar", "--iterations=3", calendar], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0"})
    assert done.returncode == 0, done.stderr
    times = [datetime.strptime(m, "%a %Y-%m-%d %H:%M:%S") for m in
             re.findall(r"\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?= UTC)", done.stdout)]
    assert len(times) >= 3 and all(t.hour == 2 and t.minute == 0 for t in times)
    assert {later - earlier for earlier, later in zip(times, times[1:])} == {timedelta(days=1)}


def test_the_secrets_file_names_every_variable_the_config_names_and_holds_no_value():
    lines = [line for line in SECRETS_ENV.read_text().splitlines() if line and not line.startswith("#")]
    pairs = dict(line.split("=", 1) for line in lines)
    assert set(pairs) == set().union(*(secret_names(s) for s in deploy_config().sources))
    assert set(pairs.values()) == {""}


def systemd_analyze() -> str:
    found = tool("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed here: the units are checked by parsing only")
    return found


def runnable_units(tmp_path: Path) -> Path:
    """The units with ExecStart pointed at this venv's csi-coach: verify checks that the
    program exists, and /opt/csi-coach is the installed host's, not this machine's."""
    here = VENV_BIN / "csi-coach"
    if not here.exists():
        pytest.skip(f"{here} is not installed")
    folder = tmp_path / "units"
    folder.mkdir()
    text = SERVICE.read_text()
    assert text.count("/opt/csi-coach/bin/csi-coach") == 1
    (folder / SERVICE.name).write_text(text.replace("/opt/csi-coach/bin/csi-coach", str(here)))
    shutil.copy(TIMER, folder / TIMER.name)
    return folder


def verify(analyze: str, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([analyze, "verify", "--man=no", str(folder / SERVICE.name), str(folder / TIMER.name)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "SYSTEMD_COLORS": "0"})


def test_systemd_analyze_verify_accepts_the_units_without_a_word(tmp_path):
    analyze = systemd_analyze()
    folder = runnable_units(tmp_path)
    done = verify(analyze, folder)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # and says something when a key is misspelt (it still exits 0 then: hence the output check)
    service = folder / SERVICE.name
    service.write_text(service.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict"))
    assert "Unknown key 'ProtectSystm'" in verify(analyze, folder).stderr


def test_systemd_analyze_security_rates_the_service_ok(tmp_path):
    analyze = systemd_analyze()
    folder = runnable_units(tmp_path)
    done = subprocess.run([analyze, "security", "--offline=yes", str(folder / SERVICE.name)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "SYSTEMD_COLORS": "0"})
    if "--offline" in done.stderr and done.returncode != 0:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline: {done.stderr.strip()}")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match[1]) <= 2.0  # 1.2 when written (systemd 252); 10 is a unit with no sandbox at all


# --- Kubernetes -----------------------------------------------------------------------------


def test_the_kustomization_lists_files_that_exist_and_makes_the_config_from_deploy_config_toml():
    k = kustomization()
    assert all((DEPLOY / resource).is_file() for resource in k["resources"])
    (generator,) = k["configMapGenerator"]
    assert generator["files"] == ["config.toml"]
    assert "kubernetes/secrets.example.yaml" not in k["resources"]  # secrets do not go in git


def test_one_cronjob_per_source_each_forbidding_overlap_on_a_claim_of_its_own():
    config = deploy_config()
    jobs = cronjobs()
    by_source = {cli(pod_spec(job)["containers"][0]["args"]).source: job for job in jobs}
    assert sorted(by_source) == sorted(s.name for s in config.sources) and len(jobs) == len(by_source)
    claims = {doc["metadata"]["name"] for doc in manifests() if doc["kind"] == "PersistentVolumeClaim"}
    used = []
    for source, job in by_source.items():
        assert job["spec"]["concurrencyPolicy"] == "Forbid", source
        assert pod_spec(job)["restartPolicy"] == "Never"
        (claim,) = [v["persistentVolumeClaim"]["claimName"] for v in pod_spec(job)["volumes"]
                    if "persistentVolumeClaim" in v]
        assert claim in claims
        used.append(claim)
    assert len(set(used)) == len(used), "two CronJobs on one state file"


def test_each_cronjob_gets_its_own_sources_secrets_from_its_secret_and_nothing_else():
    config = deploy_config()
    secrets = {doc["metadata"]["name"]: doc for doc in yaml_docs(SECRETS_YAML)}
    for job in cronjobs():
        (container,) = pod_spec(job)["containers"]
        source = config.source(cli(container["args"]).source)
        assert "envFrom" not in container
        env = {item["name"]: item for item in container["env"]}
        assert set(env) == secret_names(source)
        refs = {item["valueFrom"]["secretKeyRef"]["name"] for item in env.values()}
        assert all("value" not in item and item["valueFrom"]["secretKeyRef"]["key"] == name
                   for name, item in env.items())
        (secret,) = refs
        assert set(secrets[secret]["stringData"]) == secret_names(source)


def test_cronjob_pods_run_as_the_images_user_read_only_with_state_on_the_claim():
    config = deploy_config()
    uid, gid = image_uid_gid()
    k = kustomization()
    for job in cronjobs():
        spec = pod_spec(job)
        pod = spec["securityContext"]
        assert (pod["runAsNonRoot"], pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (True, uid, gid, gid)
        assert spec["automountServiceAccountToken"] is False
        (container,) = spec["containers"]
        box = container["securityContext"]
        assert (box["readOnlyRootFilesystem"], box["allowPrivilegeEscalation"], box["capabilities"]) == \
               (True, False, {"drop": ["ALL"]})
        assert container["image"] == k["images"][0]["name"]
        args = cli(container["args"])
        assert args.command == "scan" and args.config == image_env()["CSI_COACH_CONFIG"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert mounts[str(PurePosixPath(args.config).parent)]["configMap"]["name"] == \
               k["configMapGenerator"][0]["name"]
        (state_at,) = [path for path, v in mounts.items() if "persistentVolumeClaim" in v]
        assert under(config.state.path, state_at) and under(config.report.dir, state_at)
        assert "emptyDir" in mounts["/tmp"]


@pytest.fixture(scope="module")
def k8s():
    return pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed (test extras)")


def schema_versions() -> list[str]:
    # 1.31: podFailurePolicy is stable there (timeZone since 1.27); and the newest the package carries
    try:
        import kubernetes_validate
    except ImportError:
        return ["1.31.0"]
    return ["1.31.0", kubernetes_validate.latest_version()]


@pytest.mark.parametrize("version", schema_versions())
def test_the_manifests_match_kubernetes_own_schemas(k8s, version):
    docs = manifests() + yaml_docs(SECRETS_YAML)
    assert {doc["kind"] for doc in docs} == {"CronJob", "PersistentVolumeClaim", "Secret"}
    for doc in docs:
        k8s.validate(doc, version, strict=True)


def test_the_schema_check_does_catch_a_misspelt_field(k8s):
    job = cronjobs()[0]
    pod_spec(job)["containers"][0]["securityContxt"] = {"readOnlyRootFilesystem": True}
    with pytest.raises(k8s.ValidationError, match="securityContxt"):
        k8s.validate(job, "1.31.0", strict=True)


def test_kustomize_renders_what_the_cluster_gets_and_it_validates(k8s):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed here: `kubectl kustomize deploy/` is not rendered")
    done = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    (config_map,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    assert config_map["data"]["config.toml"] == (DEPLOY / "config.toml").read_text()
    jobs = [doc for doc in docs if doc["kind"] == "CronJob"]
    assert len(jobs) == len(cronjobs())
    for job in jobs:
        spec = pod_spec(job)
        assert spec["containers"][0]["image"] == f"csi-coach:{kustomization()['images'][0]['newTag']}"
        assert config_map["metadata"]["name"] in [v.get("configMap", {}).get("name") for v in spec["volumes"]]
        assert job["metadata"]["labels"]["app.kubernetes.io/name"] == "csi-coach"
    for doc in docs:
        k8s.validate(doc, schema_versions()[-1], strict=True)
