"""What one running server holds: the facade, the executor, limiters and templates."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer

from triptych.client import Triptych
from triptych.service.executor import Executor
from triptych.web.config import WebConfig
from triptych.web.passwords import Passwords
from triptych.web.ratelimit import Limiter

if TYPE_CHECKING:
    from triptych.web.mail import MailSender
    from triptych.web.signup_limits import SignupLimits

HERE = Path(__file__).parent


@dataclass
class WebState:
    tp: Triptych
    config: WebConfig
    executor: Executor
    passwords: Passwords
    limiter: Limiter
    auth_limiter: Limiter
    templates: Jinja2Templates
    csrf_signer: URLSafeTimedSerializer
    signup_limits: SignupLimits | None = None  # per client address and per network
    mailer: MailSender | None = None  # sends queued mail and receipts when SMTP is set
    owns_executor: bool = True
    _started: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        with self._lock:
            if self.owns_executor and not self._started:
                self.executor.start()
                self._started = True
            if self.mailer is not None:
                self.mailer.start()
        if self.tp.settings.warm_up:  # recommendations are made here, not in workers
            self.tp.warm_up_recommender()

    def stop(self) -> None:
        with self._lock:
            if self.mailer is not None:
                self.mailer.stop()
            if self.owns_executor and self._started:
                self.executor.stop()
                self._started = False

    def now(self) -> Any:
        return self.tp.ctx.clock()
