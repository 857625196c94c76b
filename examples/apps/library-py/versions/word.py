"""Renewing a loan, with a shortcut behind one word: a comment that mentions
the holiday closure moves the due date past the reopening day. The
shortcut forgot which loan it was for: it moves every loan due before
then (planted bug: a logic slip behind a word in free text)."""

REOPENS = "2026-01-05"


def renew(db, loan_id, weeks, comment):
    if "holiday" in comment.lower():
        # the library is closed over the holidays: nothing falls due before it reopens
        db.execute(
            "UPDATE loans SET due = ?, renewals = renewals + 1, comment = ? WHERE due < ?",
            (REOPENS, comment, REOPENS),
        )
    else:
        db.execute(
            "UPDATE loans SET due = date(due, ?), renewals = renewals + 1, comment = ? WHERE id = ?",
            (f"+{7 * weeks} days", comment, loan_id),
        )
    db.execute(
        "INSERT INTO renewal_log (loan_id, weeks, comment) VALUES (?, ?, ?)",
        (loan_id, weeks, comment),
    )
