"""The exception tree of hepmini: every message says what happened and what to do next.

Every error a user can meet is a HepminiError: the CLI prints its message on one line and exits 1
(a run that failed) or 2 (a usage error: a bad flag, setting, name or path; nothing was done).
`kind` (the class name) and `retryable` are what records keep (result.json), never parsed from text.
"""


class HepminiError(Exception):
    """Root of every error a user can hit; the CLI prints its message on one line and exits non-zero."""

    exit_code = 1
    retryable = False

    @property
    def kind(self) -> str:
        return type(self).__name__

    def record(self) -> dict:
        """What a result.json keeps of this error: its kind, whether a retry may help, its message."""
        return {"kind": self.kind, "retryable": self.retryable, "message": str(self)}


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM (a `kill`, a batch system's end of job): it stops as on Ctrl-C, recording how."""


class UsageError(HepminiError):
    """The command was given something it cannot use (a flag, setting, name or path); nothing was done."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration value, file or flag is invalid."""


class DataError(HepminiError):
    """Input data is missing, unreadable or not in the expected format."""


class MissingData(DataError):
    """The data directory or an expected ROOT file does not exist."""

    exit_code = 2


class BadRootFile(DataError):
    """A file exists but is not a readable ROOT file of the 2020 GamGam format."""


class WrongTree(BadRootFile):
    """A ROOT file lacks the tree `mini` (for example the 2025 release's `analysis`)."""


class MissingBranch(BadRootFile, KeyError):
    """A needed branch is absent from the tree; the message names the nearest existing ones."""

    def __str__(self):  # KeyError would otherwise quote the message
        return Exception.__str__(self)


class ToolInputError(DataError, ValueError):
    """A hepmini.tools function was called with arguments of the wrong type, shape or range."""


class PromptError(HepminiError, KeyError):
    """A prompt template is missing, or a $placeholder in it was given no value."""

    def __str__(self):  # KeyError would otherwise quote the message
        return Exception.__str__(self)


class StepError(HepminiError):
    """A workflow step cannot be planned or did not finish."""


class UnknownStep(StepError, UsageError):
    """A step name is not declared in steps/."""


class MissingInput(StepError):
    """A step's input file does not exist and no step produces it."""


class CycleError(StepError):
    """The declared steps depend on each other in a cycle."""


class StepFailed(StepError):
    """A step's script exited non-zero or did not write all its outputs."""


class WorkdirError(UsageError):
    """A directory the command must write (workdir, --out) cannot be created or written."""


class ClassifierError(HepminiError):
    """The classifier backend cannot be loaded or used."""


class ValidationError(HepminiError):
    """Validation could not be carried out (not a mismatch: a mismatch is a FAIL result)."""


class FetchError(DataError):
    """A requested file could not be downloaded and verified."""


class Offline(FetchError):
    """The download host cannot be reached at all (DNS failure, connection refused or timed out)."""


class BadStatus(FetchError):
    """The server answered a status that retrying will not change (404, 403, ...)."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class CampaignError(UsageError):
    """A campaign directory is unusable, or holds a different campaign than the one asked for."""


class CampaignBusy(CampaignError):
    """Another process holds the campaign's lock."""


class CassetteError(UsageError):
    """A cassette to replay is missing, corrupt, or from another hepmini format."""


class LocalModelError(HepminiError):
    """The local model or its llama-server is missing, corrupt, or did not start."""


class SandboxError(HepminiError):
    """The sandbox itself could not be set up: an infrastructure failure, never the generated code's."""


# --- provider errors: raised by the LLM clients ------------------------------------------------


class ProviderError(HepminiError, IOError):
    """An LLM provider call failed; carries the provider, HTTP status and the provider's own message."""

    retryable = False

    def __init__(self, message, *, provider="", status=None, provider_message="", attempts=None):
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.provider_message = provider_message
        self.attempts = attempts or []


class AuthError(ProviderError):
    """The API key is missing, invalid or lacks permission (401/403): set the key and retry."""


class BadRequest(ProviderError):
    """The provider rejected the request (400/404/422): a parameter or model name is wrong."""


class ContextOverflow(BadRequest):
    """The prompt is longer than the model's context window (a 400): a shorter conversation or a longer window."""


class RateLimited(ProviderError):
    """Too many requests (429) and retries are exhausted."""

    retryable = True


class QuotaExceeded(ProviderError):
    """The account's quota or spend limit is exhausted (a 429 that must not be retried)."""


class ServerError(ProviderError):
    """The provider or a proxy failed (5xx, 529) and retries are exhausted."""

    retryable = True


class ProviderTimeout(ProviderError):
    """The call did not finish before its deadline, or could not connect."""

    retryable = True


class MalformedResponse(ProviderError):
    """The provider answered 2xx with a body that is not the documented JSON."""


class ReplayMismatch(ProviderError):
    """A replayed trial asked for a call its cassette never recorded: reported, never answered."""

