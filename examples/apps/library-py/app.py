#!/usr/bin/env python3
"""Library loans: a small web application in Python's standard library only
(http.server + sqlite3) on a SQLite file, for `rowguard app spec.toml ...`.

    python3 app.py --version safe --port 8000 --db library.sqlite

The port and the database file default to what rowguard exports
(ROWGUARD_PORT, ROWGUARD_DB_PATH). Each request opens its own connection,
commits (or rolls back on an error) and closes it. Every statement the
application runs is printed on stderr (`sql: ...`), so a finding shows it.

Routes:
    GET  /                     the loans, one line each (text)
    GET  /loans/{id}           one loan (JSON)
    POST /loans/{id}/renew     form: weeks (1-4), comment  -> the version's renew()
    POST /loans/{id}/comment   form: comment               -> the loan's comment
"""

import argparse
import importlib
import json
import os
import re
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class NotFound(Exception):
    pass


class BadRequest(Exception):
    pass


def connect(path):
    db = sqlite3.connect(path, timeout=5)
    last = [None]

    def trace(sql):
        # each statement a trigger runs is traced again with the outer
        # statement's text: say each statement once
        if sql != last[0]:
            print("sql:", sql, file=sys.stderr, flush=True)
        last[0] = sql

    db.set_trace_callback(trace)
    return db


def loan(db, loan_id):
    row = db.execute(
        "SELECT id, member_id, title, due, renewals, comment FROM loans WHERE id = ?",
        (loan_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no loan {loan_id}")
    keys = ("id", "member_id", "title", "due", "renewals", "comment")
    return dict(zip(keys, row))


def make_handler(version, db_path):
    class Handler(BaseHTTPRequestHandler):
        server_version = "library-py"

        def log_message(self, fmt, *args):
            print("request:", fmt % args, file=sys.stderr, flush=True)

        def answer(self, status, body, kind="application/json"):
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def form(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

        def handle_db(self, work):
            db = connect(db_path)
            try:
                result = work(db)
                db.commit()
                return result
            except Exception:
                db.rollback()
                raise
            finally:
                db.close()

        def route(self, method):
            path = self.path.split("?", 1)[0]
            if method == "GET" and path == "/":
                rows = self.handle_db(
                    lambda db: db.execute(
                        "SELECT id, member_id, title, due, renewals FROM loans ORDER BY id"
                    ).fetchall()
                )
                text = "".join(f"{r[0]}\t{r[1]}\t{r[2]}\tdue {r[3]}\t{r[4]} renewal(s)\n" for r in rows)
                return self.answer(200, text, "text/plain; charset=utf-8")
            m = re.fullmatch(r"/loans/([0-9]+)(/renew|/comment)?", path)
            if not m:
                raise NotFound(f"no route {method} {path}")
            loan_id, action = int(m.group(1)), m.group(2)
            if method == "GET" and action is None:
                return self.answer(200, self.handle_db(lambda db: loan(db, loan_id)))
            if method != "POST" or action is None:
                raise NotFound(f"no route {method} {path}")
            form = self.form()
            comment = form.get("comment", "")
            if action == "/renew":
                try:
                    weeks = int(form.get("weeks", "1"))
                except ValueError:
                    raise BadRequest("weeks: a number of weeks")
                if not 1 <= weeks <= 4:
                    raise BadRequest("weeks: 1 to 4")

                def renew(db):
                    loan(db, loan_id)
                    version.renew(db, loan_id, weeks, comment)
                    return loan(db, loan_id)

                return self.answer(200, self.handle_db(renew))

            def set_comment(db):
                loan(db, loan_id)
                db.execute("UPDATE loans SET comment = ? WHERE id = ?", (comment, loan_id))
                return loan(db, loan_id)

            return self.answer(200, self.handle_db(set_comment))

        def run(self, method):
            try:
                self.route(method)
            except NotFound as e:
                self.answer(404, {"error": str(e)})
            except BadRequest as e:
                self.answer(400, {"error": str(e)})
            except sqlite3.Error as e:
                print("error:", e, file=sys.stderr, flush=True)
                self.answer(500, {"error": f"database: {e}"})

        def do_GET(self):
            self.run("GET")

        def do_POST(self):
            self.run("POST")

    return Handler


def main():
    p = argparse.ArgumentParser(description="library loans")
    p.add_argument("--version", default="safe", help="safe, word or slip (versions/NAME.py)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ROWGUARD_PORT", "8000")))
    p.add_argument("--db", default=os.environ.get("ROWGUARD_DB_PATH", "library.sqlite"))
    args = p.parse_args()
    if not re.fullmatch(r"[a-z]+", args.version):
        p.error("--version: a name of versions/")
    version = importlib.import_module(f"versions.{args.version}")
    if not os.path.exists(args.db):
        p.error(f"--db {args.db}: no such file")
    server = HTTPServer(("127.0.0.1", args.port), make_handler(version, args.db))
    print(f"library-py ({args.version}) on http://127.0.0.1:{args.port} with {args.db}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
