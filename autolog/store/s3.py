"""Artifacts in S3 or an S3-compatible object store (MinIO, Ceph, moto), on boto3.

A root is ``s3://bucket/prefix``; a path below it is the object key ``prefix/path``, folders are
key prefixes (S3 has none of its own). The endpoint comes from ``AWS_ENDPOINT_URL`` or
``MLFLOW_S3_ENDPOINT_URL`` (the latter so an MLflow setup carries over), credentials and region
from boto3's usual chain (environment, ``~/.aws``, instance role). No message of ours includes a
credential: errors name the bucket, the key and S3's error code.

Files go up with boto3's managed transfer, which streams from disk and switches to a multipart
upload above ``multipart_threshold``, so a multi-GB checkpoint never sits in memory. Every boto
error is translated to autolog's errors in :func:`_translated`, the module's one boundary.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator

from autolog.entities import FileInfo
from autolog.errors import InvalidInputError, NotFoundError, StorageError, missing_dependency
from autolog.store.artifacts import ArtifactRepository, clean_path

ENDPOINT_ENVS = ("AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")
MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNKSIZE = 16 * 1024 * 1024
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}

# One client per endpoint: boto3 clients are thread-safe, creating one is not
# cheap (~50 ms), and a run's repository object is created per call.
_clients: dict[str | None, Any] = {}
_clients_lock = threading.Lock()
if hasattr(os, "register_at_fork"):
    # A client's connection pool must not be shared with a forked child.
    os.register_at_fork(after_in_child=_clients.clear)


def _client(endpoint: str | None) -> Any:
    client = _clients.get(endpoint)
    if client is None:
        with _clients_lock:
            client = _clients.get(endpoint)
            if client is None:
                try:
                    import boto3
                except ImportError:
                    raise missing_dependency("boto3", "s3") from None
                # A session per client: the default session is not thread-safe to create from.
                client = boto3.session.Session().client("s3", endpoint_url=endpoint)
                _clients[endpoint] = client
    return client


def _endpoint() -> str | None:
    for name in ENDPOINT_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


class S3ArtifactRepository(ArtifactRepository):
    """Files below ``s3://bucket/prefix``; see :class:`ArtifactRepository` for the contract.

    Raises:
        InvalidInputError: the URI names no bucket.
        ImportError: boto3 is not installed (``pip install "autolog[s3]"``).
    """

    def __init__(self, root: str) -> None:
        super().__init__(root)
        scheme, _, rest = root.partition("://")
        bucket, _, prefix = rest.partition("/")
        if scheme != "s3" or not bucket:
            raise InvalidInputError(f"Invalid S3 artifact URI {root!r}: expected s3://bucket/prefix.")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._s3 = _client(_endpoint())

    # -- keys -----------------------------------------------------------------------------------
    def _key(self, path: str | None) -> str:
        rel = clean_path(path)
        return "/".join(p for p in (self.prefix, rel) if p)

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def _objects(self, key: str) -> Iterator[dict[str, Any]]:
        """Every object below the folder ``key`` (recursively)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        folder = f"{key}/" if key else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
            yield from page.get("Contents", [])

    # -- writing --------------------------------------------------------------------------------
    def log_file(self, local_path: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_path):
            raise NotFoundError(f"No file at {local_path!r} to log as an artifact.")
        folder = clean_path(artifact_path)
        key = self._key(f"{folder}/{os.path.basename(local_path)}" if folder
                        else os.path.basename(local_path))
        with _translated(self, key, "store"):
            self._upload(local_path, key)

    def _upload(self, local_path: str, key: str) -> None:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                multipart_chunksize=MULTIPART_CHUNKSIZE)
        self._s3.upload_file(local_path, self.bucket, key, Config=config)

    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> None:
        if not os.path.isdir(local_dir):
            raise NotFoundError(f"No directory at {local_dir!r} to log as artifacts.")
        base = clean_path(artifact_path)
        for dirpath, _dirs, files in os.walk(local_dir):
            rel_dir = os.path.relpath(dirpath, local_dir).replace(os.sep, "/")
            for name in sorted(files):
                rel = "/".join(p for p in (base, "" if rel_dir == "." else rel_dir, name) if p)
                key = self._key(rel)
                with _translated(self, key, "store"):
                    self._upload(os.path.join(dirpath, name), key)

    def write_bytes(self, artifact_file: str, data: bytes, shared: bool = False) -> None:
        key = self._key(artifact_file)
        with _translated(self, key, "write"):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    # -- reading --------------------------------------------------------------------------------
    def read_bytes(self, artifact_file: str) -> bytes:
        key = self._key(artifact_file)
        with _translated(self, key, "read"):
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            return body.read()  # type: ignore[no-any-return]

    def list(self, path: str | None = None) -> list[FileInfo]:
        key = self._key(path)
        folder = f"{key}/" if key else ""
        out: list[FileInfo] = []
        with _translated(self, key, "list"):
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=folder, Delimiter="/"):
                for sub in page.get("CommonPrefixes", []):
                    out.append(FileInfo(self._rel(sub["Prefix"].rstrip("/")), True, None))
                for obj in page.get("Contents", []):
                    if obj["Key"] != folder:  # a zero-byte "folder marker" some tools create
                        out.append(FileInfo(self._rel(obj["Key"]), False, obj["Size"]))
        return sorted(out, key=lambda f: f.path)

    def exists(self, path: str) -> bool:
        key = self._key(path)
        with _translated(self, key, "read"):
            listed = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=2)
        return any(o["Key"] == key or o["Key"].startswith(f"{key}/")
                   for o in listed.get("Contents", []))

    def download(self, path: str | None = None, dst_path: str | None = None) -> str:
        import tempfile

        key = self._key(path)
        dst_root = dst_path or tempfile.mkdtemp(prefix="autolog-")
        rel = clean_path(path)
        dest = os.path.join(dst_root, rel.rsplit("/", 1)[-1] if rel else "artifacts")
        with _translated(self, key, "download"):
            objects = list(self._objects(key))
            if not objects:
                if not key:
                    raise NotFoundError(f"No artifacts in {self.root}.")
                os.makedirs(dst_root, exist_ok=True)
                # A single file; download_file streams it to disk (multipart for large ones).
                self._s3.download_file(self.bucket, key, dest)
                return dest
            prefix = f"{key}/" if key else ""
            for obj in objects:
                if obj["Key"].endswith("/"):
                    continue
                target = os.path.join(dest, *obj["Key"][len(prefix):].split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                self._s3.download_file(self.bucket, obj["Key"], target)
        return dest

    def delete(self, path: str | None = None) -> None:
        key = self._key(path)
        with _translated(self, key, "delete"):
            keys = [o["Key"] for o in self._objects(key)]
            if key:
                keys.append(key)  # the file itself, when path names a file
            for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
                self._s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})


@contextlib.contextmanager
def _translated(repo: S3ArtifactRepository, key: str, action: str) -> Iterator[None]:
    """The boundary: boto's errors become NotFoundError or StorageError (chained), one line,
    naming the bucket and key and never a credential."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{repo.bucket}/{key}"
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "NoSuchBucket":
            raise _no_bucket(repo, action, where) from exc
        if code in _NOT_FOUND_CODES:
            raise NotFoundError(f"No artifact {where}.") from exc
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StorageError(
                f"Could not {action} artifact {where}: S3 refused the credentials ({code}); "
                "check the AWS credentials and the bucket's policy.") from exc
        message = str(error.get("Message") or code or exc).splitlines()[0]
        raise StorageError(f"Could not {action} artifact {where}: {code}: {message}") from exc
    except (BotoCoreError, Boto3Error) as exc:
        # S3UploadFailedError wraps a ClientError's text; keep its first line only.
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "NoSuchBucket" in text:
            raise _no_bucket(repo, action, where) from exc
        raise StorageError(f"Could not {action} artifact {where}: {text}") from exc


def _no_bucket(repo: S3ArtifactRepository, action: str, where: str) -> StorageError:
    return StorageError(
        f"Could not {action} artifact {where}: the S3 bucket {repo.bucket!r} does not exist "
        "(create it, or point the artifact location at another bucket).")
