"""S3: one state object, every ``*.tfstate`` under a prefix (and its workspaces' copies), or every version of
them. boto3 (the ``s3`` extra) is imported when a bucket is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.errors import InputError, UsageError
from scanner.sources.base import is_state_path
from scanner.sources.tfremote.common import RemoteOptions, StateDocument

WORKSPACE_KEY_PREFIX = "env:"  # the S3 backend's default workspace_key_prefix

_S3_DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "403",
        "401",
    }
)
_S3_CHAIN = (
    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config files, web identity, "
    "container and instance roles"
)


class S3Backend:
    def __init__(self, url: str, options: RemoteOptions) -> None:
        rest = url[len("s3://") :]
        self.bucket, _, self.key = rest.partition("/")
        if not self.bucket:
            raise UsageError(f"{url}: no bucket (s3://BUCKET/KEY or s3://BUCKET/PREFIX/)")
        self.shown = f"s3://{self.bucket}/{self.key}"
        self.prefix = self.key if not self.key or self.key.endswith("/") else ""
        self.listing = bool(self.prefix) or not self.key or options.all_versions
        self.options = options
        self.session: Any = None

    def documents(self) -> Iterator[StateDocument]:
        client = self._client()
        if not self.listing:
            yield StateDocument(self.shown, self.shown, self._get(client, self.key))
            return
        keys = [self.key] if self.key and not self.key.endswith("/") else self._state_keys(client)
        if not keys:
            raise InputError(f"{self.shown}: no *.tfstate object under this prefix")
        for key in keys:
            name = f"s3://{self.bucket}/{key}"
            versions = self._versions(client, key) if self.options.all_versions else [""]
            if not versions:
                raise InputError(f"{name}: no such key")
            for version in versions:
                shown = f"{name}?versionId={version}" if version else name
                try:
                    yield StateDocument(shown, name, self._get(client, key, version, shown))
                except InputError as exc:
                    yield StateDocument(shown, name, error=str(exc).removeprefix(f"{shown}: "), reason="unreadable")

    def _client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise UsageError(f"{self.shown}: reading state from S3 needs boto3: pip install 'leakstop[s3]'") from None
        http = self.options.http
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=http.connect_timeout,
            read_timeout=http.read_timeout,
        )
        try:
            self.session = boto3.Session()
            return self.session.client("s3", config=config)  # honours AWS_ENDPOINT_URL(_S3) itself
        except Exception as exc:
            raise self._error(exc, self.shown) from None

    def _get(self, client: Any, key: str, version: str = "", shown: str = "") -> bytes:
        shown = shown or self.shown
        extra = {"VersionId": version} if version else {}
        try:
            response = client.get_object(Bucket=self.bucket, Key=key, **extra)
            body = response["Body"]
            try:
                size = int(response.get("ContentLength") or 0)
                if size > self.options.max_bytes:
                    raise InputError(f"{shown}: state over the {self.options.max_bytes}-byte cap")
                data: bytes = body.read(self.options.max_bytes + 1)
            finally:
                body.close()
        except InputError:
            raise
        except Exception as exc:
            raise self._error(exc, shown) from None
        if len(data) > self.options.max_bytes:
            raise InputError(f"{shown}: state over the {self.options.max_bytes}-byte cap")
        return data

    def _state_keys(self, client: Any) -> list[str]:
        """``*.tfstate`` keys under the prefix, and under ``env:/<workspace>/<prefix>`` (other workspaces)."""
        keys = [k for k in self._list(client, self.prefix) if is_state_path(k)]
        workspaces = f"{WORKSPACE_KEY_PREFIX}/"
        if self.prefix and not self.prefix.startswith(workspaces):
            for key in self._list(client, workspaces):
                _workspace, _, tail = key[len(workspaces) :].partition("/")
                if tail.startswith(self.prefix) and is_state_path(key):
                    keys.append(key)
        return keys

    def _list(self, client: Any, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``; with all versions, also keys whose current version is a delete marker (a
        deleted state's old versions still hold its secrets)."""
        versions = self.options.all_versions
        operation, entries = ("list_object_versions", "Versions") if versions else ("list_objects_v2", "Contents")
        last = None
        try:
            for page in client.get_paginator(operation).paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get(entries) or []:
                    key = str(item["Key"])
                    if key != last:  # versions of a key come together
                        last = key
                        yield key
        except Exception as exc:
            raise self._error(exc, self.shown) from None

    def _versions(self, client: Any, key: str) -> list[str]:
        """Version ids of ``key``, oldest first (S3 lists each key's versions newest first); delete markers have
        no content and are left out."""
        found: list[str] = []
        try:
            for page in client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
                found.extend(str(v["VersionId"]) for v in page.get("Versions") or [] if v.get("Key") == key)
        except Exception as exc:
            raise self._error(exc, f"s3://{self.bucket}/{key}") from None
        return found[::-1]

    def _error(self, exc: Exception, shown: str) -> Exception:
        """A boto3 failure as one line; the credentials, or anything signed with them, never in it."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ProfileNotFound,
            ReadTimeoutError,
        )

        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return InputError(f"{shown}: no AWS credentials found (tried {_S3_CHAIN})")
        if isinstance(exc, ProfileNotFound):
            return InputError(f"{shown}: the AWS profile named by AWS_PROFILE does not exist")
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
            return InputError(f"{shown}: cannot reach S3: {type(exc).__name__}")
        if isinstance(exc, ClientError):
            error = exc.response.get("Error") or {}
            code = str(error.get("Code") or "")
            if code in _S3_DENIED:
                return InputError(f"{shown}: access denied ({code}): {self._credential_source()} were refused")
            if code == "NoSuchBucket":
                return InputError(f"{shown}: no such bucket: {self.bucket}")
            if code in ("NoSuchKey", "404", "NoSuchVersion"):
                return InputError(f"{shown}: no such key")
            return InputError(f"{shown}: S3 error {code or 'unknown'}")
        if isinstance(exc, InputError | UsageError):
            return exc
        return InputError(f"{shown}: S3 request failed: {type(exc).__name__}")

    def _credential_source(self) -> str:
        """Where the credentials came from, in botocore's words (``env``, ``shared-credentials-file``, ...)."""
        try:
            method = self.session.get_credentials().method if self.session is not None else ""
        except Exception:
            method = ""
        return f"the AWS credentials from {method}" if method else "the AWS credentials"
