#!/usr/bin/env python3
"""The header fetch a user would otherwise write with Python's imaplib, on one connection:
EXAMINE the folder, UID FETCH the fields bccaudit needs in batches of 1000. Prints messages/s.

    BCCAUDIT_IMAP_PASSWORD=... scripts/imaplib_baseline.py HOST PORT USER FOLDER [CAFILE]
"""
import imaplib, os, ssl, sys, time

host, port, user, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=sys.argv[5] if len(sys.argv) > 5 else None)
fields = "FROM SENDER TO CC BCC RESENT-TO RESENT-CC RESENT-BCC DATE SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES"
t0 = time.time()
m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
m.login(user, os.environ["BCCAUDIT_IMAP_PASSWORD"])
m.select(folder, readonly=True)  # EXAMINE
typ, data = m.uid("SEARCH", None, "ALL")
uids = data[0].split()
n = 0
for i in range(0, len(uids), 1000):
    chunk = b",".join(uids[i:i + 1000]).decode()
    typ, data = m.uid("FETCH", chunk, f"(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({fields})])")
    n += sum(1 for d in data if isinstance(d, tuple))
m.logout()
dt = time.time() - t0
print(f"imaplib: {n} messages in {dt:.2f} s = {n / dt:.0f} messages/s")
