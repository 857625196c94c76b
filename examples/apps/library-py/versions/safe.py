"""Renewing a loan, as it should be: one row, every value a parameter."""


def renew(db, loan_id, weeks, comment):
    db.execute(
        "UPDATE loans SET due = date(due, ?), renewals = renewals + 1, comment = ? WHERE id = ?",
        (f"+{7 * weeks} days", comment, loan_id),
    )
    db.execute(
        "INSERT INTO renewal_log (loan_id, weeks, comment) VALUES (?, ?, ?)",
        (loan_id, weeks, comment),
    )
