"""The shipped artifact contract on the local folder and on S3 (moto's server), and what only
S3 has: multipart uploads, a missing bucket, the scheme's lazy registration."""

from __future__ import annotations

import pytest

import autolog
from autolog.errors import StorageError
from autolog.store import artifacts
from autolog.testing.artifact_contract import LARGE_FILE_MB, ArtifactContract


class TestLocalArtifacts(ArtifactContract):
    @pytest.fixture
    def repo(self, tmp_path):
        return artifacts.repository(str(tmp_path / "root"))


class TestS3Artifacts(ArtifactContract):
    @pytest.fixture
    def repo(self, s3_bucket, monkeypatch):
        from autolog.store import s3

        # Small parts, so that the contract's large file goes up in several (5 MB is S3's minimum).
        monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
        monkeypatch.setattr(s3, "MULTIPART_CHUNKSIZE", 5 * 1024 * 1024)
        return artifacts.repository(f"s3://{s3_bucket}/runs/1")


def test_large_file_is_a_multipart_upload(s3_bucket, tmp_path, monkeypatch):
    from autolog.store import s3

    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(s3, "MULTIPART_CHUNKSIZE", 5 * 1024 * 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x07" * (12 * 1024 * 1024))
    repo = artifacts.repository(f"s3://{s3_bucket}/p")
    repo.log_file(str(big))
    head = getattr(repo, "inner", repo)._s3.head_object(Bucket=s3_bucket, Key="p/big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # three parts of 5, 5 and 2 MB
    assert head["ContentLength"] == 12 * 1024 * 1024
    assert LARGE_FILE_MB * 1024 * 1024 > s3.MULTIPART_THRESHOLD  # the contract's file is multipart


def test_bucket_at_root_and_bad_uris(s3_bucket):
    repo = artifacts.repository(f"s3://{s3_bucket}")
    repo.write_bytes("top.txt", b"t")
    assert [f.path for f in repo.list()] == ["top.txt"]
    with pytest.raises(autolog.InvalidInputError, match="s3://bucket/prefix"):
        artifacts.repository("s3:///no-bucket")


def test_missing_bucket_fails_at_the_first_write_and_the_run_survives(s3_server, tmp_path):
    client = autolog.Client()
    eid = client.create_experiment("s3-missing", artifact_location="s3://autolog-no-such-bucket/a")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with autolog.start_run(experiment_id=eid) as run:
        autolog.log_metric("before", 1.0)
        with pytest.raises(StorageError) as err:
            autolog.log_artifact(str(note))
        autolog.log_metric("after", 2.0)
    message = str(err.value)
    assert "autolog-no-such-bucket" in message and "does not exist" in message
    assert "\n" not in message and "testing" not in message  # one line, no credential
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics == {"before": 1.0, "after": 2.0}


def test_s3_and_postgres_load_lazily():
    """``import autolog`` (the artifacts module and S3's registration included) loads neither
    boto3 nor psycopg."""
    import subprocess
    import sys

    code = ("import sys, autolog, autolog.store.artifacts as a; assert 's3' in a._SCHEMES; "
            "heavy = {'boto3', 'botocore', 'psycopg', 'autolog.store.s3'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
