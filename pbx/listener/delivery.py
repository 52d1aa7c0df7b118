"""Send spooled calls to Odoo's webhook in batches, with retry and backoff.

The webhook (``POST {url}/phone_call_accounting/pbx/{pbx_id}/calls?format=native``,
``Authorization: Bearer {token}``, body ``{"calls": [...]}``) upserts by
``external_id``, so sending a call twice never makes two records: every
doubt (timeout, dropped connection, garbled answer) is settled by sending
again. What each answer does:

* **200** with one result per call, in request order: ``created`` and
  ``updated`` are delivered, ``rejected`` is final and its ``reason`` kept
  in the spool.
* **400 / 413**: the batch itself is bad. It is split in halves and each
  half sent on its own, down to single calls; a single call that still gets
  400/413 is marked failed with Odoo's answer as the reason. A 413 also
  lowers the batch size for the following batches.
* **401 / 403** (and other 4xx): configuration (token, pbx_id, URL). The
  calls stay pending, retried with backoff, and each failure is logged as
  an error saying what to check.
* **5xx, 429, timeouts, refused or dropped connections, answers that are not
  the expected JSON**: the calls stay pending, retried with exponential
  backoff (``backoff_min`` doubling up to ``backoff_max`` seconds).

Only the standard library is used (``urllib.request``).
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import urlsplit

_logger = logging.getLogger(__name__)

DELIVERED_RESULTS = frozenset({"created", "updated"})
BAD_BATCH = frozenset({400, 413})
AUTH_PROBLEMS = frozenset({401, 403})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REASON = 2000


@dataclass(frozen=True)
class Reply:
    """What one POST got: an HTTP ``status`` (None when there was no answer)."""

    status: int | None
    data: object = None  # the decoded JSON body, when it was JSON
    text: str = ""  # the body as text (for reasons and logs)
    error: str | None = None  # why there was no answer


class Webhook:
    """Client of Odoo's call webhook for one PBX."""

    def __init__(self, url, pbx_id, token, timeout=10.0):
        self.endpoint = f"{url.rstrip('/')}/phone_call_accounting/pbx/{pbx_id}/calls"
        # The listener's calls are the native format, whatever webhook format
        # the PBX record is set to for other senders.
        self.url = f"{self.endpoint}?format=native"
        self.token = token
        self.timeout = timeout
        handlers = []
        if urlsplit(self.endpoint).hostname in LOOPBACK:
            # Never send a loopback URL through an environment proxy.
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, calls):
        body = json.dumps({"calls": calls}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _reply(response.status, response.read())
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read()
            except (OSError, HTTPException):
                payload = b""
            finally:
                exc.close()
            return _reply(exc.code, payload)
        except urllib.error.URLError as exc:
            return Reply(None, error=str(exc.reason))
        except (OSError, HTTPException) as exc:  # TimeoutError is an OSError
            return Reply(None, error=f"{type(exc).__name__}: {exc}")


def _reply(status, payload):
    text = payload.decode("utf-8", "replace")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    return Reply(status, data, text)


def _reason_of(reply):
    if reply.status is None:
        return reply.error or "no answer"
    data = reply.data
    if isinstance(data, dict):
        for key in ("reason", "error", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if value:
                return f"HTTP {reply.status}: {value}"[:MAX_REASON]
    text = " ".join(reply.text.split())
    return f"HTTP {reply.status}: {text}"[:MAX_REASON] if text else f"HTTP {reply.status}"


class Deliverer:
    """Moves calls from a :class:`pbx.listener.spool.Spool` to a :class:`Webhook`.

    :meth:`deliver_once` sends one batch and is what the tests drive;
    :meth:`run` loops on it in the listener's delivery thread.
    """

    def __init__(
        self,
        spool,
        webhook,
        batch_size=200,
        backoff_min=1.0,
        backoff_max=60.0,
        clock=time.time,
        purge_after=7 * 86400,
    ):
        self.spool = spool
        self.webhook = webhook
        self.batch_size = max(1, int(batch_size))
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.clock = clock
        self.purge_after = purge_after
        self.retry_at = 0.0
        self.failures = 0  # consecutive failed attempts
        self.requests = self.delivered = self.rejected = self.failed = 0
        self._last_purge = None

    def backoff(self):
        """Seconds to wait after the current run of failures."""
        if not self.failures:
            return 0.0
        return min(self.backoff_max, self.backoff_min * 2 ** (self.failures - 1))

    def deliver_once(self, force=False):
        """Send one batch of due calls, unless a backoff is running.

        Returns how many calls were settled (delivered, rejected or failed),
        0 when nothing was due, or None when the attempt failed and the
        calls wait for the backoff. ``force`` ignores backoffs and sends
        deferred calls too (the last attempt before the listener stops).
        """
        now = self.clock()
        if now < self.retry_at and not force:
            return None
        items = self.spool.pending(self.batch_size, now=math.inf if force else now)
        if not items:
            return 0
        return self._send(items)

    def deliver_all(self, deadline=None, force=False):
        """Send batches until nothing is due, an attempt fails or ``deadline`` passes."""
        total = 0
        while deadline is None or self.clock() < deadline:
            settled = self.deliver_once(force=force)
            if not settled:
                return total if settled == 0 else None
            total += settled
        return total

    def _send(self, items):
        reply = self.webhook.post([item.call for item in items])
        self.requests += 1
        if reply.status == 200:
            results = self._results(items, reply.data)
            if results is not None:
                return self._settle(items, results)
            self._retry(items, f"unexpected answer: {_reason_of(reply)}", reply)
            return None
        if reply.status in BAD_BATCH:
            if reply.status == 413 and len(items) > 1:
                self.batch_size = max(1, min(self.batch_size, len(items) // 2))
                _logger.warning("Odoo refused a batch of %d calls as too large", len(items))
            if len(items) == 1:
                reason = _reason_of(reply)
                self.spool.mark_failed(items[0], reason)
                self.failed += 1
                _logger.error("Odoo refused call %s: %s", items[0].external_id, reason)
                return 1
            half = len(items) // 2
            first = self._send(items[:half])
            if first is None:
                return None
            second = self._send(items[half:])
            return None if second is None else first + second
        self._retry(items, _reason_of(reply), reply)
        return None

    @staticmethod
    def _results(items, data):
        """Odoo's result per item, in item order, or None when the answer is unusable."""
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(items):
            return None
        if not all(isinstance(result, dict) for result in results):
            return None
        if all(
            result.get("external_id") in (None, item.external_id)
            for item, result in zip(items, results, strict=True)
        ):
            return results
        # Not in request order after all: pair them by external_id.
        by_id = {str(result.get("external_id")): result for result in results}
        if set(by_id) != {item.external_id for item in items}:
            return None
        return [by_id[item.external_id] for item in items]

    def _settle(self, items, results):
        delivered, delivered_results, unclear = [], [], []
        for item, result in zip(items, results, strict=True):
            word = str(result.get("result") or "").lower()
            if word in DELIVERED_RESULTS:
                delivered.append(item)
                delivered_results.append(result)
            elif word == "rejected":
                reason = result.get("reason") or "rejected without a reason"
                self.spool.mark_rejected(item, reason)
                self.rejected += 1
                _logger.warning("Odoo rejected call %s: %s", item.external_id, reason)
            else:
                unclear.append(item)
        self.spool.mark_delivered(delivered, delivered_results)
        self.delivered += len(delivered)
        if self.failures:
            _logger.info("Odoo accepts calls again after %d failed attempts", self.failures)
        self.failures, self.retry_at = 0, 0.0
        if unclear:
            self._retry(unclear, "answer without a created/updated/rejected result", None)
        return len(items) - len(unclear)

    def _retry(self, items, reason, reply):
        self.failures += 1
        delay = self.backoff()
        self.retry_at = self.clock() + delay
        self.spool.defer(items, self.retry_at, reason)
        status = reply.status if reply is not None else None
        if status in AUTH_PROBLEMS or (status is not None and 400 <= status < 500):
            _logger.error(
                "Odoo refuses the listener (%s): check odoo.url, odoo.pbx_id and odoo.token in "
                "the configuration. %d calls kept; next try in %g s",
                reason,
                len(items),
                delay,
            )
        else:
            _logger.warning(
                "Delivery to %s failed (%s); %d calls kept, next try in %g s",
                self.webhook.endpoint,
                reason,
                len(items),
                delay,
            )

    def purge(self):
        """Delete delivered rows older than ``purge_after`` seconds, at most hourly."""
        now = self.clock()
        if self.purge_after and (self._last_purge is None or now - self._last_purge >= 3600):
            self._last_purge = now
            return self.spool.purge(now - self.purge_after)
        return 0

    def run(self, stop, wake, idle=5.0, linger=0.1):
        """Delivery thread: send whenever calls are due until ``stop`` is set.

        ``wake`` is set by whoever spools new calls; ``idle`` bounds the wait
        between checks (pending rows of an earlier run, backoffs ending).
        Once woken it lingers ``linger`` seconds, so calls finishing together
        travel in one request rather than one request each.
        """
        while not stop.is_set():
            try:
                wake.clear()
                settled = self.deliver_once()
                if settled:
                    continue
                self.purge()
                wait = idle
                if settled is None:
                    wait = max(0.0, min(idle, self.retry_at - self.clock()))
                else:
                    due = self.spool.next_due()
                    if due is not None:
                        wait = max(0.0, min(idle, due - self.clock()))
                if not wait:
                    continue
                if settled is None:
                    stop.wait(wait)  # a new call does not cut a backoff short
                elif wake.wait(wait) and linger:
                    stop.wait(linger)
            except Exception:
                _logger.exception("Delivery loop failed; trying again in %g s", idle)
                stop.wait(idle)
