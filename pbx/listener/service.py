"""Live AMI listener: manager -> call assembler -> spool -> Odoo.

``python -m pbx listen --config CONFIG.json`` runs a :class:`Listener`:

* a **supervisor** thread connects a fresh :class:`pbx.asterisk.ami_manager.Manager`
  (pyst2 cannot reconnect one), logs in, and then pings it every
  ``ami.ping_interval`` seconds. When the socket closes, the reader fails or
  a Ping goes unanswered, it retires that Manager and connects a new one at
  once (retrying every ``ami.reconnect_max`` seconds at most while the PBX is
  unreachable). Every action (Login, Ping, Logoff) is sent from this one
  thread.
* the Manager's **dispatch** thread feeds each event to one
  :class:`pbx.asterisk.assembler.CallAssembler`, which outlives reconnects, and
  writes the calls it finishes to the :class:`pbx.listener.spool.Spool` (SQLite, WAL)
  before anything tries to send them.
* a **delivery** thread posts spooled calls to Odoo in batches
  (:class:`pbx.listener.delivery.Deliverer`: retry, backoff, idempotent upsert).
* with ``odoo.ringing`` on, every phone that starts ringing is posted to
  Odoo's ringing route at once (:mod:`pbx.listener.ringing`, from a thread of its
  own, never stored, dropped rather than late).
* with ``odoo.live`` on, queue callers and members and the calls in progress
  on desk phones are posted to Odoo's live-event route for the wallboard
  (:mod:`pbx.listener.live`: batched, from a thread of its own, dropped rather
  than late). The supervisor asks the PBX for ``QueueStatus`` on every
  connect, every ``odoo.live_status_interval`` seconds and after a lost
  batch, and for ``QueueSummary`` every ``odoo.live_summary_interval``
  seconds (a disagreement asks for ``QueueStatus``): each status answer is
  posted as a snapshot that replaces the queues' state in Odoo.

On SIGTERM/SIGINT (:meth:`Listener.stop`): log off, dispatch what was
already read, close the calls still open (as the end of a replay does, so
nothing in progress is dropped; Odoo updates them if they are sent again),
spool them, make one last delivery attempt and close the spool.
"""

import logging
import queue
import signal
import sqlite3
import threading
import time
from pathlib import Path

from ..asterisk.ami_manager import Manager, ManagerAuthException, ManagerException, ManagerTimeout
from ..asterisk.assembler import CallAssembler
from .config import ConfigError, load_listen_config
from .delivery import Deliverer, Webhook
from .live import LiveSender, LiveTracker
from .ringing import RingingDetector, RingingSender
from .spool import Spool

_logger = logging.getLogger(__name__)

SHUTDOWN_DELIVERY_SECONDS = 10.0
STALE_SWEEP_SECONDS = 60.0
# A lost live batch or a QueueSummary that disagrees asks for a QueueStatus
# this long after the last one at the soonest.
LIVE_RESYNC_SECONDS = 5.0
# Parsed events waiting for the dispatch thread, in batches of one socket
# read (up to 32 KiB, about sixty events). A parsed event takes about 5 KB of
# Python objects, ten times its bytes on the wire, so the Manager's default of
# 256 batches holds some 85 MB whenever the callbacks fall behind (a burst, a
# slow spool disk), and Python keeps most of it afterwards. A few batches keep
# the dispatch thread busy; beyond them events wait as bytes in the kernel's
# socket buffer, and then TCP makes Asterisk wait.
EVENT_QUEUE_BATCHES = 8


class ListenerManager(Manager):
    """The :class:`Manager` the listener uses: a short queue of parsed events."""

    def __init__(self, *args, event_queue_batches=EVENT_QUEUE_BATCHES, **kwargs):
        super().__init__(*args, **kwargs)
        self._event_queue = queue.Queue(event_queue_batches)


class Listener:
    """Keep an AMI connection alive and turn its events into spooled, delivered calls.

    ``config`` is a checked listen config. ``clock`` gives the moment each
    event is read (events without a Timestamp header are timed by it);
    ``manager_factory`` makes a new Manager per connection.
    """

    def __init__(
        self, config, spool=None, webhook=None, manager_factory=ListenerManager, clock=time.time
    ):
        self.config = config
        self.ami = config["ami"]
        odoo = config["odoo"]
        self.clock = clock
        self.manager_factory = manager_factory
        self.assembler = CallAssembler(config["trunks"], stale_seconds=config["stale_seconds"])
        self.spool = spool if spool is not None else Spool(Path(config["spool"]))
        self.webhook = webhook or Webhook(
            odoo["url"], odoo["pbx_id"], odoo["token"], timeout=odoo["timeout"]
        )
        self.deliverer = Deliverer(
            self.spool,
            self.webhook,
            batch_size=odoo["batch_size"],
            backoff_min=odoo["backoff_min"],
            backoff_max=odoo["backoff_max"],
        )
        self.ringing = RingingDetector(config["trunks"]) if odoo["ringing"] else None
        self.ringing_sender = (
            RingingSender(odoo["url"], odoo["pbx_id"], odoo["token"]) if self.ringing else None
        )
        self.live = LiveTracker(config["trunks"]) if odoo["live"] else None
        self.live_sender = (
            LiveSender(odoo["url"], odoo["pbx_id"], odoo["token"], interval=odoo["live_interval"])
            if self.live
            else None
        )
        self._live_actions = 0
        self._live_manager = None
        self._live_refused = set()  # actions this connection refused: not asked again
        self._next_status = self._next_summary = self._last_status = 0.0
        self.manager = None
        self.connections = 0  # successful logins so far
        self.events = 0
        self.calls_spooled = 0
        self.connected = threading.Event()
        self._assembler_lock = threading.Lock()
        self._unspooled = []  # finished calls the spool could not take yet
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._delivery_stop = threading.Event()
        self._threads = []
        self._last_sweep = time.monotonic()

    # -- life cycle --------------------------------------------------------

    def start(self):
        """Start the supervisor and delivery threads; returns at once."""
        for target, name in ((self._supervise, "pbx-supervisor"), (self._deliver, "pbx-delivery")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def run(self):
        """Start and block until :meth:`stop` has finished."""
        self.start()
        while not self._stopped.wait(0.5):
            pass

    def stop(self, delivery_seconds=SHUTDOWN_DELIVERY_SECONDS):
        """Log off, spool every call (open ones closed), try a last delivery."""
        if self._stop.is_set():
            self._stopped.wait()
            return
        self._stop.set()
        self._wake.set()
        supervisor = self._threads[0] if self._threads else None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        with self._assembler_lock:
            calls = self.assembler.flush()
        self._spool_calls(calls)
        self._delivery_stop.set()
        self._wake.set()
        for thread in self._threads[1:]:
            thread.join()
        # One last attempt, even during a backoff.
        deadline = self.deliverer.clock() + delivery_seconds
        left = self.deliverer.deliver_all(deadline=deadline, force=True)
        counts = self.spool.counts()
        _logger.info(
            "Listener stopped: %d events, %d calls spooled; spool: %s%s",
            self.events,
            self.calls_spooled,
            ", ".join(f"{count} {state}" for state, count in counts.items()),
            ""
            if left is not None
            else " (Odoo unreachable: pending calls wait for the next start)",
        )
        self.spool.close()
        if self.ringing_sender is not None:
            self.ringing_sender.stop()
        if self.live_sender is not None:
            self.live_sender.stop()
        self._stopped.set()

    def wait_connected(self, connections=1, timeout=10.0):
        """Wait until ``connections`` logins have happened; True if they have."""
        deadline = time.monotonic() + timeout
        while self.connections < connections or not self.connected.is_set():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # -- supervision -------------------------------------------------------

    def _supervise(self):
        delay, failures = 0.1, 0
        while not self._stop.is_set():
            manager = None
            try:
                manager = self._connect(failures)
                if manager is None:
                    failures += 1
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.ami["reconnect_max"])
                    continue
                delay, failures = 0.1, 0
                self._watch(manager)
            except Exception:
                # Never let the supervisor die: a listener without one is silent.
                _logger.exception("AMI supervision failed; reconnecting")
                self._stop.wait(self.ami["reconnect_max"])
            finally:
                self.connected.clear()
                if manager is not None:
                    manager.close(logoff=self._stop.is_set(), timeout=self.ami["ping_timeout"])
                self.manager = None

    def _connect(self, failures=0):
        ami = self.ami
        manager = self.manager_factory()
        try:
            manager.connect(ami["host"], ami["port"], timeout=ami["connect_timeout"])
            manager.register_event("*", self._on_event)
            manager.login(ami["username"], ami["secret"], timeout=ami["connect_timeout"])
        except ManagerAuthException as exc:
            _logger.error("AMI login as %r refused: %s", ami["username"], exc)
            manager.close(logoff=False)
            return None
        except ManagerException as exc:
            # Said at once, then about once a minute while the PBX stays away.
            log = _logger.warning if failures % 30 == 0 else _logger.debug
            log("Cannot connect to AMI at %s:%s: %s", ami["host"], ami["port"], exc)
            manager.close(logoff=False)
            return None
        self.manager = manager
        self.connections += 1
        self.connected.set()
        _logger.info(
            "Connected to %s %s at %s:%s (connection %d)",
            manager.title,
            manager.version,
            ami["host"],
            ami["port"],
            self.connections,
        )
        return manager

    def _watch(self, manager):
        """Return when the connection is lost or a stop is asked for."""
        interval = self.ami["ping_interval"]
        next_ping = time.monotonic() + interval
        while not self._stop.is_set():
            if manager.wait_closed(min(0.1, interval)):
                _logger.warning("AMI connection lost; reconnecting")
                return
            self._housekeeping()
            self._live_housekeeping(manager)
            if time.monotonic() < next_ping:
                continue
            progress = (manager.bytes_read, manager.events_dispatched)
            try:
                manager.ping(timeout=self.ami["ping_timeout"])
            except ManagerTimeout:
                if (manager.bytes_read, manager.events_dispatched) == progress:
                    _logger.warning("AMI Ping not answered; reconnecting")
                    return
                # Data kept coming: the answer is queued behind events the
                # callbacks have not caught up with. The link is alive.
                _logger.info("AMI Ping answer late while events keep coming; staying")
            except ManagerException as exc:
                _logger.warning("AMI Ping failed (%s); reconnecting", exc)
                return
            next_ping = time.monotonic() + interval

    def _live_housekeeping(self, manager):
        """Ask for QueueStatus on a new connection, periodically, when the live
        state may be wrong (a lost batch, a QueueSummary that disagrees); ask for
        QueueSummary periodically."""
        if self.live is None:
            return
        odoo = self.config["odoo"]
        now = time.monotonic()
        if manager is not self._live_manager:
            self._next_status = now
            self._live_refused = set()
        elif self.live.resync_wanted or self.live_sender.lost:
            # Soon, not at once: while Odoo is away every batch is lost.
            self._next_status = min(self._next_status, self._last_status + LIVE_RESYNC_SECONDS)
        if now >= self._next_status:
            self._live_manager = manager
            self._last_status = now
            self._next_status = now + odoo["live_status_interval"]
            self._next_summary = now + odoo["live_summary_interval"]
            self.live_sender.clear_lost()
            self.live.resync_wanted = False
            self._live_action(manager, "QueueStatus", self.live.expect_status)
        elif now >= self._next_summary:
            self._next_summary = now + odoo["live_summary_interval"]
            self._live_action(manager, "QueueSummary", self.live.expect_summary)

    def _live_action(self, manager, action, expect):
        """Send ``action`` with an ActionID the tracker expects; its events come
        through the dispatch thread. An action the PBX refuses (no app_queue,
        a manager user without the class) is not asked again on this connection."""
        if action in self._live_refused:
            return
        self._live_actions += 1
        action_id = f"pbx-live-{self._live_actions}"
        expect(action_id)
        try:
            response = manager.send_action(
                {"Action": action, "ActionID": action_id}, timeout=self.ami["ping_timeout"]
            )
        except ManagerException as exc:
            _logger.warning("AMI %s failed: %s", action, exc)
            return
        if response.get_header("Response") != "Success":
            self._live_refused.add(action)
            _logger.warning(
                "AMI %s refused: %s (is app_queue loaded, may the AMI user read it?)",
                action,
                response.get_header("Message"),
            )

    def _housekeeping(self):
        """Retry calls the spool refused; close calls silent for stale_seconds."""
        if self._unspooled:
            self._spool_calls([])
        if time.monotonic() - self._last_sweep >= STALE_SWEEP_SECONDS:
            self._last_sweep = time.monotonic()
            with self._assembler_lock:
                calls = self.assembler.close_stale(self.clock())
            self._spool_calls(calls)

    # -- events and calls ---------------------------------------------------

    def _on_event(self, event, manager):
        with self._assembler_lock:
            self.events += 1
            calls = self.assembler.feed(event.ami, self.clock())
        if self.ringing is not None:
            for ringing in self.ringing.feed(event.ami):
                self.ringing_sender.send(ringing)  # never blocks
        if self.live is not None:
            for live in self.live.feed(event.ami):
                self.live_sender.send(live)  # never blocks
        if calls:
            self._spool_calls(calls)

    def _spool_calls(self, calls):
        with self._assembler_lock:
            calls, self._unspooled = self._unspooled + list(calls), []
        if not calls:
            return
        try:
            self.spool.put(calls)
        except Exception:
            _logger.exception(
                "Cannot write %d calls to the spool; keeping them in memory", len(calls)
            )
            with self._assembler_lock:
                self._unspooled = calls + self._unspooled
            return
        self.calls_spooled += len(calls)
        self._wake.set()

    def _deliver(self):
        self.deliverer.run(self._delivery_stop, self._wake)


def run_listen(args):
    """``python -m pbx listen``: run until SIGTERM or SIGINT."""
    config = load_listen_config(args.config)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        listener = Listener(config)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open the spool {config['spool']}: {exc}") from exc

    def _stop(signum, frame):
        _logger.info("Signal %d received; stopping", signum)
        threading.Thread(target=listener.stop, name="pbx-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _logger.info(
        "Listening to AMI at %s:%s, delivering to %s, spool %s",
        config["ami"]["host"],
        config["ami"]["port"],
        listener.webhook.endpoint,
        config["spool"],
    )
    listener.run()
    return 0
