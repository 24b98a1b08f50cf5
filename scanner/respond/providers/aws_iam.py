"""AWS IAM user access keys (``aws-access-key-id``): find the key's user, deactivate the key (revoke), or rotate
it: a replacement made, handed to the sink, the leaked key deactivated, then deleted after the overlap window.

Identify: ``identify: caller-identity`` signs STS GetCallerIdentity with the found key pair (the secret access
key arrives in ``Credential.related``); it needs no permission, but it *uses* the leaked credential, which
some policies forbid, so the default is ``key-lookup``: IAM GetAccessKeyLastUsed with our credentials.

Rotation is a multi-step action; each step's end is recorded by the outbox (``ProviderResult.progress``)
before the next begins, so a process killed anywhere never makes a second live replacement::

    ""                          identify the user, list its keys                  → identified:USER:OTHER,KEYS
    identified:USER:KEYS        CreateAccessKey, hand it to the sink, deactivate the leaked key
                                                                                  → deactivated:USER:NEW:DUE
    delivered:USER:NEW          (deactivation failed after the hand-over) deactivate  → deactivated:USER:NEW:DUE
    deactivated:USER:NEW:DUE    wait for the overlap window (RETRY, retry_after), then DeleteAccessKey → DONE

A key the user has that is neither the leaked one nor in KEYS was made by an attempt that died before its
end was recorded. If the leaked key is inactive, that attempt got through the hand-over (we deactivate only
after it): its key is adopted. Otherwise it is deleted and a fresh one made and handed over (the sink's
newest version wins).

Deactivation is reversible (UpdateAccessKey Active) until the delete. Temporary credentials already minted
from the key stay valid until they expire; ``revoke_sessions: true`` attaches a deny on older tokens to the
user.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scanner.models import Secret
from scanner.respond.awsclient import aws_errors, boto3_module, client, error_code, error_outcome, our_session
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.base import ProviderContext, SinkError

GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id-credentials-access-keys-update.html"
RULE, SECRET_RULE = "aws-access-key-id", "aws-secret-access-key"
SESSIONS = "sessions already minted from it stay valid until they expire (up to 36 h)"
SESSIONS_POLICY = "LeakstopRevokeOlderSessions"  # as the console's AWSRevokeOlderSessions, for a user


@dataclass(frozen=True)
class Progress:
    """Where a rotation is: the step done last, the user, and key ids (none of them secret)."""

    step: str  # "", identified, delivered, deactivated
    user: str = ""
    keys: tuple[str, ...] = ()  # identified: the user's other keys before ours; later: (the replacement,)
    due: float = 0.0  # deactivated: when the leaked key may be deleted

    def text(self) -> str:
        return ":".join([self.step, self.user, ",".join(self.keys), *([f"{self.due:.0f}"] if self.due else [])])

    @classmethod
    def parse(cls, text: str) -> Progress:
        if not text:
            return cls("")
        step, user, listed, *due = text.split(":")
        keys = tuple(k for k in listed.split(",") if k)
        later = step in ("delivered", "deactivated")
        if step not in ("identified", "delivered", "deactivated") or not user or (later and len(keys) != 1):
            raise ValueError(text)
        if len(due) != (step == "deactivated"):
            raise ValueError(text)
        return cls(step, user, keys, float(due[0]) if due else 0.0)


class _Stop(Exception):
    """An answer reached in the middle of a step (AWS said no, or there is nothing left to do)."""

    def __init__(self, result: ProviderResult) -> None:
        super().__init__(result.detail)
        self.result = result


class AwsIamProvider:
    name = "aws-iam"
    guide = GUIDE
    batch_size = 10

    def __init__(self, context: ProviderContext) -> None:
        settings = context.settings
        self.context = context
        self.identify_with_key = settings.get("identify", "key-lookup") == "caller-identity"
        self.overlap = float(settings.get("overlap_hours", 24)) * 3600
        self.revoke_sessions = bool(settings.get("revoke_sessions", False))
        self.endpoint_url = str(settings.get("endpoint_url", ""))
        self.session = our_session(context.env, "respond: provider 'aws-iam'", str(settings.get("region", "")))
        self.errors = aws_errors()
        self.iam = client(self.session, "iam", self.endpoint_url, context.http.settings)

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return rule_id == RULE and kind in (ActionKind.REVOKE, ActionKind.ROTATE)

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return [self._one(kind, credential) for credential in credentials]

    def _one(self, kind: ActionKind, credential: Credential) -> ProviderResult:
        if not self.supports(kind, credential.rule_id):
            return ProviderResult(Outcome.FAILED, f"aws-iam: cannot {kind.value} a {credential.rule_id} credential")
        try:
            if kind is ActionKind.REVOKE:
                return self._revoke(credential)
            return self._rotate(credential, Progress.parse(credential.progress))
        except _Stop as stop:
            return stop.result
        except ValueError:
            return ProviderResult(Outcome.FAILED, "aws-iam: unreadable rotation progress; start the action over")

    # -- steps ----------------------------------------------------------------------------------------------

    def _revoke(self, credential: Credential) -> ProviderResult:
        key = credential.secret.reveal()
        user, via = self._identify(credential)
        self._leaked_status(user, key, "revoke")
        self._call("UpdateAccessKey", self.iam.update_access_key, UserName=user, AccessKeyId=key, Status="Inactive")
        return ProviderResult(
            Outcome.DONE,
            f"aws-iam: key {credential.secret.redacted()} of user {user} ({via}) deactivated; reversible until "
            f"deleted (UpdateAccessKey Active); {self._sessions(user)}",
        )

    def _rotate(self, credential: Credential, progress: Progress) -> ProviderResult:
        if progress.step == "deactivated":
            return self._delete_after_overlap(credential, progress)
        if progress.step == "delivered":
            return self._deactivate(credential, progress.user, progress.keys[0], "")
        if self.context.sink is None:
            return ProviderResult(Outcome.FAILED, "aws-iam: rotate needs a sink (respond.sink); nothing was created")
        if progress.step == "identified":
            return self._replace(credential, progress)
        user, via = self._identify(credential)
        others = self._leaked_status(user, credential.secret.reveal(), "rotate")
        step = Progress("identified", user, tuple(others))
        return ProviderResult(Outcome.RETRY, f"aws-iam: user {user} ({via}); replacement next", 0.0, "", step.text())

    def _replace(self, credential: Credential, progress: Progress) -> ProviderResult:
        user, leaked = progress.user, credential.secret.reveal()
        keys = self._key_states(user)
        unrecorded = [k for k in keys if k != leaked and k not in progress.keys]  # made by an attempt that died
        if keys.get(leaked) != "Active" and len(unrecorded) == 1:
            # We deactivate only after a hand-over: that attempt got through it. Adopt its replacement.
            return self._deactivate(credential, user, unrecorded[0], "")
        self._stop_if_done(keys, leaked, "rotate")
        for orphan in unrecorded:  # it may have been handed over: the fresh one replaces it at the sink too
            self._delete_key(user, orphan)
        made = self._create_key(user)
        new_id = str(made["AccessKeyId"])
        replacement = {"AccessKeyId": Secret(new_id), "SecretAccessKey": Secret(str(made["SecretAccessKey"]))}
        metadata = {"provider": self.name, "user": user, "access_key_id": new_id, "rule": credential.rule_id}
        assert self.context.sink is not None  # checked by _rotate
        try:
            where = self.context.sink.deliver(credential, replacement, metadata)
        except SinkError as exc:
            self._delete_key(user, new_id)
            outcome = Outcome.RETRY if exc.retryable else Outcome.FAILED
            detail = f"aws-iam: replacement not handed over ({exc}); it was deleted"
            return ProviderResult(outcome, detail, None, "", progress.text())
        return self._deactivate(credential, user, new_id, where)

    def _deactivate(self, credential: Credential, user: str, new_id: str, where: str) -> ProviderResult:
        delivered = Progress("delivered", user, (new_id,))
        try:
            key = credential.secret.reveal()
            self._call("UpdateAccessKey", self.iam.update_access_key, UserName=user, AccessKeyId=key, Status="Inactive")
        except _Stop as stop:
            if stop.result.outcome is not Outcome.ALREADY_DONE:  # a retry resumes here, with no new key
                detail = f"{stop.result.detail}; replacement {new_id} handed over, leaked key still active"
                return ProviderResult(stop.result.outcome, detail, stop.result.retry_after, new_id, delivered.text())
        due = self.context.clock() + self.overlap
        step = Progress("deactivated", user, (new_id,), due)
        handed = f"handed to {where}; " if where else ""
        detail = (
            f"aws-iam: replacement {new_id} for user {user} {handed}leaked key {credential.secret.redacted()} "
            f"deactivated, deleted after the {self.overlap / 3600:g} h overlap; {self._sessions(user)}"
        )
        return ProviderResult(Outcome.RETRY, detail, self.overlap, new_id, step.text())

    def _delete_after_overlap(self, credential: Credential, progress: Progress) -> ProviderResult:
        new_id, wait = progress.keys[0], progress.due - self.context.clock()
        if wait > 0:
            return ProviderResult(Outcome.RETRY, "aws-iam: in the overlap window", wait, new_id, progress.text())
        key = credential.secret.reveal()
        keys = self._key_states(progress.user)
        if keys.get(key) == "Active":
            return ProviderResult(
                Outcome.FAILED,
                f"aws-iam: leaked key {credential.secret.redacted()} was reactivated during the overlap window; "
                "not deleted: deactivate and delete it once nothing uses it",
                reference=new_id,
            )
        if key in keys:
            self._delete_key(progress.user, key)
        return ProviderResult(Outcome.DONE, f"aws-iam: rotated to {new_id}; leaked key deleted", reference=new_id)

    # -- AWS calls ------------------------------------------------------------------------------------------

    def _identify(self, credential: Credential) -> tuple[str, str]:
        """The key's user name and how it was found."""
        secret = credential.related.get(SECRET_RULE)
        if self.identify_with_key and secret is not None:
            key = credential.secret.reveal()
            found_pair = boto3_module("aws-iam").Session(key, secret.reveal(), region_name=self.session.region_name)
            sts = client(found_pair, "sts", self.endpoint_url, self.context.http.settings)
            try:
                arn = str(sts.get_caller_identity()["Arn"])
            except self.errors as exc:
                if error_code(exc) not in ("InvalidClientTokenId", "SignatureDoesNotMatch"):
                    raise _Stop(error_outcome(exc, "aws-iam: GetCallerIdentity")) from None
            else:  # a refused pair (inactive, deleted, or not this key's secret): look the key up instead
                if ":user/" not in arn:
                    raise _Stop(ProviderResult(Outcome.FAILED, f"aws-iam: not an IAM user's key ({arn})"))
                return arn.rsplit("/", 1)[1], "sts:GetCallerIdentity with the found key"
        key = credential.secret.reveal()
        found = self._call("GetAccessKeyLastUsed", self.iam.get_access_key_last_used, AccessKeyId=key)
        if not found.get("UserName"):
            detail = "aws-iam: the key has no IAM user (a root key?): rotate it by hand"
            raise _Stop(ProviderResult(Outcome.FAILED, detail))
        return str(found["UserName"]), "iam:GetAccessKeyLastUsed"

    def _leaked_status(self, user: str, key: str, what: str) -> list[str]:
        """The user's other key ids; stops with ALREADY_DONE if the leaked key is inactive or gone."""
        keys = self._key_states(user)
        self._stop_if_done(keys, key, what)
        return [k for k in keys if k != key]

    @staticmethod
    def _stop_if_done(keys: dict[str, str], key: str, what: str) -> None:
        if keys.get(key) != "Active":
            state = "inactive" if key in keys else "deleted"
            raise _Stop(ProviderResult(Outcome.ALREADY_DONE, f"aws-iam: key already {state}; nothing to {what}"))

    def _key_states(self, user: str) -> dict[str, str]:
        """The user's access key ids and their status (Active, Inactive)."""
        return {str(k["AccessKeyId"]): str(k["Status"]) for k in self._list_keys(user)}

    def _list_keys(self, user: str) -> list[dict[str, Any]]:
        return list(self._call("ListAccessKeys", self.iam.list_access_keys, UserName=user)["AccessKeyMetadata"])

    def _delete_key(self, user: str, key: str) -> None:
        try:
            self._call("DeleteAccessKey", self.iam.delete_access_key, UserName=user, AccessKeyId=key)
        except _Stop as stop:
            if stop.result.outcome is not Outcome.ALREADY_DONE:
                raise

    def _sessions(self, user: str) -> str:
        if not self.revoke_sessions:
            return f"{SESSIONS}: set revoke_sessions or see {GUIDE}"
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.context.clock()))
        condition = {"DateLessThan": {"aws:TokenIssueTime": issued}}
        statement = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        try:
            put = self.iam.put_user_policy
            self._call("PutUserPolicy", put, UserName=user, PolicyName=SESSIONS_POLICY, PolicyDocument=document)
        except _Stop as stop:
            return f"{SESSIONS}: denying them failed ({stop.result.detail}); attach a deny on aws:TokenIssueTime"
        return f"sessions issued before {issued} denied ({SESSIONS_POLICY} on the user)"

    def _create_key(self, user: str) -> dict[str, Any]:
        try:
            return dict(self.iam.create_access_key(UserName=user)["AccessKey"])
        except self.errors as exc:
            if error_code(exc) != "LimitExceeded":
                raise _Stop(error_outcome(exc, "aws-iam: CreateAccessKey")) from None
        detail = (
            f"aws-iam: user {user} already has two access keys, the most IAM allows: delete the one that is not "
            "the leaked key if nothing uses it (or revoke instead of rotating), then drain again"
        )
        raise _Stop(ProviderResult(Outcome.FAILED, detail))

    def _call(self, what: str, call: Any, **params: Any) -> Any:
        """One AWS call; its failure as a ``_Stop`` (NoSuchEntity, the key or user gone: ALREADY_DONE)."""
        try:
            return call(**params)
        except self.errors as exc:
            if error_code(exc) == "NoSuchEntity":
                detail = f"aws-iam: {what}: no such key (already deleted)"
                raise _Stop(ProviderResult(Outcome.ALREADY_DONE, detail)) from None
            raise _Stop(error_outcome(exc, f"aws-iam: {what}")) from None


def make(context: ProviderContext) -> AwsIamProvider:
    return AwsIamProvider(context)
