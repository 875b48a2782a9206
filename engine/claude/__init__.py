"""The Claude gateway: the only package that talks to the Anthropic API.

`client` builds the SDK client and prices calls, `transport` makes one streamed attempt,
`policy` decides retries, `calls` runs one logical call with retries, recording and reuse.
"""

from engine.claude.abort import Abort, Aborted
from engine.claude.calls import CallFailed, Exhausted, Ledger, Reply, Request, Spend, call

__all__ = ["Abort", "Aborted", "CallFailed", "Exhausted", "Ledger", "Reply", "Request", "Spend", "call"]
