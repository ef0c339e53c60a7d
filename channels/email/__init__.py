"""The e-mail channel: MIME parsing, IMAP poller, SMTP intake server, SMTP replies."""
