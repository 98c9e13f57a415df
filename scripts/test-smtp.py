#!/usr/bin/env python3
"""A real SMTP server for Steward's tests: STARTTLS with a given (self-signed) certificate,
required before AUTH, one user and password, every accepted message stored in a Maildir.

    test-smtp.py --port 2525 --maildir DIR --cert cert.pem --key key.pem --user U --password P

Prints "ready" once it listens; stops on SIGTERM.
"""

import argparse
import asyncio
import logging
import mailbox
import signal
import ssl
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, maildir):
        self.box = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server, session, envelope):
        self.box.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def main():
    # aiosmtpd warns about its own internals on every login.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        # handled=False: aiosmtpd then answers 535 itself.
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Store(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    print("ready", flush=True)
    stop = asyncio.new_event_loop()
    done = asyncio.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.call_soon_threadsafe(done.set))
    signal.signal(signal.SIGINT, lambda *_: stop.call_soon_threadsafe(done.set))
    stop.run_until_complete(done.wait())
    controller.stop()


if __name__ == "__main__":
    main()
