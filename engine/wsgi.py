"""WSGI entry for production servers: ``gunicorn 'engine.wsgi:application'``.

Each worker process builds its platform (and its config watcher) from the environment. Behind
the TLS proxy of a production set-up, ``DARAPORT_TRUSTED_PROXIES=N`` (the number of proxies in
front) makes client addresses, scheme and host come from the proxy's X-Forwarded-* headers, so
sign-in throttling sees real client IPs and session cookies are marked Secure.
"""

import os

from werkzeug.middleware.proxy_fix import ProxyFix

from engine.platform import create_platform, settle_heap

platform = create_platform()
settle_heap()
_proxies = int(os.environ.get("DARAPORT_TRUSTED_PROXIES", "0") or 0)
application = (ProxyFix(platform, x_for=_proxies, x_proto=_proxies, x_host=_proxies)  # type: ignore[arg-type]
               if _proxies > 0 else platform)
