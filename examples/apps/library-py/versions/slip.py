"""Renewing a loan with the wrong column in its WHERE clause: the loan's id
is compared with member_id, so every loan of the member whose id equals
the loan's is renewed instead (planted bug: a logic slip, on any input)."""


def renew(db, loan_id, weeks, comment):
    db.execute(
        "UPDATE loans SET due = date(due, ?), renewals = renewals + 1, comment = ? WHERE member_id = ?",
        (f"+{7 * weeks} days", comment, loan_id),
    )
    db.execute(
        "INSERT INTO renewal_log (loan_id, weeks, comment) VALUES (?, ?, ?)",
        (loan_id, weeks, comment),
    )
