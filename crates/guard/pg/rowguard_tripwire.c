/*
 * rowguard_tripwire.c: the native capture of rowguard's PostgreSQL tripwire
 * (crates/guard/src/tripwire/postgres/, `PgTripwire::install_native`).
 *
 * It owns, per backend:
 * - the session's arming: `SET rowguard_tripwire.arm = sha256(token) +
 *   policy`, sent alone outside a transaction block, begins the operation's
 *   transaction block and arms the session for one operation (the utility
 *   hook reads the statement; the setting itself never takes a value). Only
 *   a settled COMMIT or `disarm(token)` disarms it, so a ROLLBACK the
 *   operation sends does not (a write after it still cannot commit). The
 *   arm carries the token's hash and only the settle reveals the token: a
 *   statement's text can be read back while the operation runs
 *   (pg_stat_activity, the server log), a hash gives nothing to settle
 *   with. An armed session cannot be armed again, so SQL in the operation
 *   cannot arm a transaction of its own with a token it knows;
 * - the capture: an AFTER ROW trigger that, while the session is armed,
 *   copies each changed row (old and new tuple) into the transaction's
 *   memory, tagged with its subtransaction so that a rolled-back savepoint
 *   drops its rows; unarmed sessions pay one branch per row;
 * - the settle: `SAVEPOINT rowguard_settle_<token>; COMMIT`. A utility hook
 *   reads the token from the savepoint's name and, at the COMMIT, before
 *   the transaction ends, checks every captured row against the arm's
 *   policy: it passes a row only when it is certainly allowed (an in-place
 *   update of a target row touching writable columns only, or an allowed
 *   side effect on a row holding a target key; values compared by their
 *   bytes, keys only for integer and text columns: stricter than rowguard's
 *   judge, never looser). Anything else fails the COMMIT with RG001 inside
 *   the savepoint, which leaves the transaction alive: the client rolls
 *   back to the savepoint and reads the rows with `take(token)`. The same
 *   settle and COMMIT in one prepared statement, which the server neither
 *   parses nor plans per operation and which opens no subtransaction:
 *   `CALL rowguard_tripwire.settle($1)` bound with the token (the hook
 *   takes the CALL; see settle_call), completing as `SELECT 1` when it
 *   ends the block for the commit, `SELECT 0` (nothing changed, the
 *   transaction alive for take) when a row needs the judge. The Rust
 *   client uses this one;
 * - the gate at COMMIT (and PREPARE): a transaction that was armed and not
 *   settled, or that holds captured rows nobody checked, cannot commit;
 * - `take(token)`: the captured rows as (table, old, new) jsonb text, as
 *   `to_jsonb(row)` prints them, for the judge in Rust, each read with the
 *   row type it was captured with (a copy of the table's descriptor at
 *   capture time, blessed as a record type), never the table's current one;
 * - what the capture sees, kept still while armed: the utility hook refuses
 *   every utility statement outside an allow-list (refuse_unless_harmless:
 *   all DDL, ALTER TABLE of any kind, DISABLE/DROP TRIGGER, RENAME, CREATE
 *   RULE, CLUSTER, COPY FROM, SET session_replication_role, ...), the
 *   executor hook refuses writes to the system catalogs, and no row is
 *   captured, settled or committed outside the origin replication role
 *   (the capture triggers are ENABLE ALWAYS, so they fire in any role).
 *
 * The arm is a SET and the settle a savepoint because those are the
 * cheapest statements the server runs: no planner, no executor (a SELECT of
 * a function costs three times a SET's server time). The hook takes the
 * arm before the setting would: no GUC work, nothing for SHOW, and the
 * arm's own BEGIN saves the client a statement. A value that reaches the
 * setting by any other road (set_config(), ALTER ROLE, the configuration
 * file) is refused. The hook exists once the module is loaded in the
 * backend: the client calls `loaded()` when it wraps a connection. The
 * token's SHA-256 is computed here (sha256.c), not through the server's
 * OpenSSL layer, whose per-call setup cost more than the rest of a settle.
 *
 * Every byte a client sends that this module reads (the arm's value, a
 * token) is parsed in arm.c, plain C without the server's headers, which
 * .ci/c-fuzz.sh fuzzes under AddressSanitizer and UndefinedBehaviorSanitizer
 * (crates/guard/pg/fuzz/).
 *
 * Nothing here is shared between backends, nothing is written to a table,
 * and SQL that does not know the operation's token can neither read,
 * settle, nor disarm the capture.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "arm.h"

PG_MODULE_MAGIC;

/* Bytes of row copies one transaction may hold before a write fails. */
#define MAX_CAPTURED_BYTES ((Size) 256 * 1024 * 1024)
#define ARM_SETTING "rowguard_tripwire.arm"

/* A table as its captured rows were written (a DDL in the transaction makes a new one). */
typedef struct Shape
{
	Oid			relid;
	char	   *name;
	TupleDesc	desc;
} Shape;

typedef struct Change
{
	SubTransactionId subid;
	Shape	   *shape;
	HeapTuple	old;			/* NULL for an insert */
	HeapTuple	new;			/* NULL for a delete */
	Size		bytes;
} Change;

/* session state: armed from arm() until a settled COMMIT or disarm() */
static bool session_armed = false;
/* the hex SHA-256 of the operation's token */
static char commitment[RG_DIGEST_HEX + 1];
/* bumped at every transaction end: arm() records the transaction it armed */
static uint64 generation = 1;
static uint64 armed_generation = 0;
/* this transaction's rows were checked (settle or take) */
static bool settled = false;
/* this transaction's captured rows and shapes, in TopTransactionContext */
static List *changes = NIL;
static List *shapes = NIL;
static Size captured_bytes = 0;
/* the arm's policy (NULL: none, every captured row goes to the judge) and
 * the token a settle savepoint named, in TopTransactionContext */
static RgPolicy *policy = NULL;
static char *settle_token = NULL;
static ProcessUtility_hook_type next_utility = NULL;
static ExecutorStart_hook_type next_executor_start = NULL;

void		_PG_init(void);

/*
 * An armed operation runs in the origin replication role only: in any
 * other, the server skips ordinary triggers and foreign-key actions (the
 * capture's triggers are ENABLE ALWAYS and still fire). Checked at the arm,
 * at every captured row, at the settle and at the armed transaction's
 * COMMIT, so a role set by SET, set_config() or a function's SET clause
 * fails the operation whichever way it came.
 */
static void
refuse_replica_role(void)
{
	if (SessionReplicationRole != SESSION_REPLICATION_ROLE_ORIGIN)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("rowguard tripwire: an operation runs with session_replication_role = origin only")));
}

static void
transaction_ended(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (changes != NIL || (armed_generation == generation && !settled))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
						 errmsg("rowguard tripwire: writes the tripwire has not checked cannot commit")));
			if (armed_generation == generation)
				refuse_replica_role();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			if (event == XACT_EVENT_COMMIT && settled && armed_generation == generation)
				session_armed = false;
			/* the lists' memory goes with TopTransactionContext */
			changes = NIL;
			shapes = NIL;
			policy = NULL;
			settle_token = NULL;
			captured_bytes = 0;
			settled = false;
			generation++;
			break;
		default:
			break;
	}
}

static void
subtransaction_ended(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *arg)
{
	ListCell   *lc;
	int			keep = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* a settle that failed: the client rolls back to its savepoint */
	settle_token = NULL;
	if (changes == NIL)
		return;
	/* rows of `sub` and of its children come last, in capture order */
	foreach(lc, changes)
	{
		Change	   *c = (Change *) lfirst(lc);

		if (c->subid >= sub)
			break;
		keep++;
	}
	for (int i = keep; i < list_length(changes); i++)
		captured_bytes -= ((Change *) list_nth(changes, i))->bytes;
	changes = keep == 0 ? NIL : list_truncate(changes, keep);
}

static bool check_arm_setting(char **newval, void **extra, GucSource source);
PG_FUNCTION_INFO_V1(rowguard_tripwire_settle);
static void tripwire_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
							 ProcessUtilityContext context, ParamListInfo params,
							 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc);
static void tripwire_executor_start(QueryDesc *queryDesc, int eflags);
static char *arm_setting = NULL;
static void forget_settle_proc(Datum arg, int cacheid, uint32 hashvalue);

void
_PG_init(void)
{
	RegisterXactCallback(transaction_ended, NULL);
	RegisterSubXactCallback(subtransaction_ended, NULL);
	CacheRegisterSyscacheCallback(PROCOID, forget_settle_proc, (Datum) 0);
	DefineCustomStringVariable(ARM_SETTING, "Arms this session's tripwire (read by the utility hook, never set).",
							   NULL, &arm_setting, "", PGC_USERSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_NO_RESET_ALL,
							   check_arm_setting, NULL, NULL);
	MarkGUCPrefixReserved("rowguard_tripwire");
	next_utility = ProcessUtility_hook;
	ProcessUtility_hook = tripwire_utility;
	next_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = tripwire_executor_start;
}

PG_FUNCTION_INFO_V1(rowguard_tripwire_loaded);

/* loaded(): nothing; calling it loads the module, and so defines its settings. */
Datum
rowguard_tripwire_loaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_VOID();
}

/*
 * Every value that reaches the setting itself is refused (and blanked, so
 * the refusal does not print it): the arm is the utility hook's, which
 * reads `SET rowguard_tripwire.arm = '...'` before the setting sees it.
 * What is left is set_config(), ALTER ROLE/DATABASE, connection options and
 * the configuration file.
 */
static bool
check_arm_setting(char **newval, void **extra, GucSource source)
{
	if (**newval == '\0')
		return true;
	memset(*newval, 0, strlen(*newval));
	GUC_check_errmsg("rowguard tripwire: arm with SET rowguard_tripwire.arm = '...', alone, outside a transaction block");
	return false;
}

/*
 * A copy of `tuple` holding every attribute of `desc`: a row stored before
 * ADD COLUMN lacks the new attributes, whose values live in the table's
 * descriptor (attmissingval); the shape's copy of it keeps no such values,
 * so the copy is expanded now, while the table's own descriptor is at hand.
 */
static HeapTuple
full_copy(HeapTuple tuple, TupleDesc desc)
{
	if (HeapTupleHeaderGetNatts(tuple->t_data) < desc->natts)
		return heap_expand_tuple(tuple, desc);
	return heap_copytuple(tuple);
}

/* Same attribute layout: the tuples a shape holds deform with its descriptor. */
static bool
same_layout(TupleDesc a, TupleDesc b)
{
	if (a->natts != b->natts)
		return false;
	for (int i = 0; i < a->natts; i++)
	{
		Form_pg_attribute x = TupleDescAttr(a, i);
		Form_pg_attribute y = TupleDescAttr(b, i);

		if (x->atttypid != y->atttypid || x->attlen != y->attlen ||
			x->attbyval != y->attbyval || x->attalign != y->attalign ||
			x->attisdropped != y->attisdropped || strcmp(NameStr(x->attname), NameStr(y->attname)) != 0)
			return false;
	}
	return true;
}

static Shape *
shape_of(Relation rel)
{
	ListCell   *lc;
	Shape	   *s;

	foreach(lc, shapes)
	{
		s = (Shape *) lfirst(lc);
		if (s->relid == RelationGetRelid(rel) && same_layout(s->desc, RelationGetDescr(rel)))
			return s;
	}
	s = (Shape *) palloc(sizeof(Shape));
	s->relid = RelationGetRelid(rel);
	s->name = pstrdup(RelationGetRelationName(rel));
	/*
	 * The row type as captured, as an anonymous record: take() prints the
	 * rows with it (BlessTupleDesc at the first read), never with the
	 * table's row type of the moment.
	 */
	s->desc = CreateTupleDescCopy(RelationGetDescr(rel));
	s->desc->tdtypeid = RECORDOID;
	s->desc->tdtypmod = -1;
	shapes = lappend(shapes, s);
	return s;
}

PG_FUNCTION_INFO_V1(rowguard_tripwire_capture);

Datum
rowguard_tripwire_capture(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	HeapTuple	old = NULL;
	HeapTuple	new = NULL;
	MemoryContext caller;
	Change	   *c;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errmsg("rowguard tripwire: capture() is a trigger function")));
	td = (TriggerData *) fcinfo->context;
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR, (errmsg("rowguard tripwire: capture() must be an AFTER ROW trigger")));
	if (!session_armed)
		return PointerGetDatum(NULL);
	/* the trigger is ENABLE ALWAYS: it fires in every replication role */
	refuse_replica_role();

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		new = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		old = td->tg_trigtuple;
		new = td->tg_newtuple;
	}
	else
		old = td->tg_trigtuple;

	caller = MemoryContextSwitchTo(TopTransactionContext);
	c = (Change *) palloc(sizeof(Change));
	c->subid = GetCurrentSubTransactionId();
	c->shape = shape_of(td->tg_relation);
	c->old = old ? full_copy(old, RelationGetDescr(td->tg_relation)) : NULL;
	c->new = new ? full_copy(new, RelationGetDescr(td->tg_relation)) : NULL;
	c->bytes = sizeof(Change) + (c->old ? HEAPTUPLESIZE + c->old->t_len : 0) + (c->new ? HEAPTUPLESIZE + c->new->t_len : 0);
	changes = lappend(changes, c);
	MemoryContextSwitchTo(caller);

	captured_bytes += c->bytes;
	if (captured_bytes > MAX_CAPTURED_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rowguard tripwire: the operation changed more rows than the capture holds (%zu MB)",
						MAX_CAPTURED_BYTES / (1024 * 1024))));
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(rowguard_tripwire_no_truncate);

Datum
rowguard_tripwire_no_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *td;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errmsg("rowguard tripwire: no_truncate() is a trigger function")));
	td = (TriggerData *) fcinfo->context;
	if (session_armed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("rowguard tripwire: TRUNCATE of %s is denied",
						RelationGetRelationName(td->tg_relation))));
	return PointerGetDatum(NULL);
}

/* `t` (`len` bytes) hashes to the armed commitment. */
static bool
opens(const char *t, size_t len)
{
	return rg_token_opens(commitment, t, len);
}

/* Why `t` (`len` bytes) may not read this transaction's capture, or NULL. */
static const char *
refused(const char *t, size_t len, int *code)
{
	*code = ERRCODE_INSUFFICIENT_PRIVILEGE;
	if (!session_armed || !opens(t, len))
		return "rowguard tripwire: reading the capture without the operation's token";
	*code = ERRCODE_INVALID_TRANSACTION_STATE;
	if (armed_generation != generation)
		return "rowguard tripwire: the operation ended the tripwire's transaction";
	return NULL;
}

static void
check_token(text *t)
{
	int			code;
	const char *why = refused(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &code);

	if (why)
		ereport(ERROR, (errcode(code), errmsg("%s", why)));
}

PG_FUNCTION_INFO_V1(rowguard_tripwire_disarm);

/* disarm(token text): after a rolled-back operation (outside any transaction). */
Datum
rowguard_tripwire_disarm(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	if (session_armed && !opens(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("rowguard tripwire: disarming without the operation's token")));
	session_armed = false;
	PG_RETURN_VOID();
}


static bool
named(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return true;
	return false;
}

static int
attnum_of(TupleDesc desc, const char *column)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), column) == 0)
			return i + 1;
	}
	return 0;
}

/* The value `d` of column `att` (1-based) holds a target key: integer and text columns only. */
static bool
key_value(const RgPolicy *p, TupleDesc desc, int att, Datum d, bool isnull)
{
	Oid			type;

	if (att <= 0 || att > desc->natts || isnull)
		return false;
	type = TupleDescAttr(desc, att - 1)->atttypid;
	if (type == INT2OID || type == INT4OID || type == INT8OID)
	{
		int64		v = type == INT2OID ? DatumGetInt16(d) : type == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);

		for (int i = 0; i < p->n_int_keys; i++)
			if (p->int_keys[i] == v)
				return true;
		return false;
	}
	if (type == TEXTOID || type == VARCHAROID)
	{
		text	   *v = DatumGetTextPP(d);
		int			len = VARSIZE_ANY_EXHDR(v);

		for (int i = 0; i < p->n_text_keys; i++)
			if (p->text_key_lens[i] == (size_t) len &&
				memcmp(p->text_keys[i], VARDATA_ANY(v), len) == 0)
				return true;
		return false;
	}
	return false;
}

/* The column `att` of `tuple` holds a target key. */
static bool
holds_key(const RgPolicy *p, HeapTuple tuple, TupleDesc desc, int att)
{
	bool		isnull;
	Datum		d;

	if (att <= 0 || att > desc->natts)
		return false;
	d = heap_getattr(tuple, att, desc, &isnull);
	return key_value(p, desc, att, d, isnull);
}

static bool
certainly_allowed(const RgPolicy *p, const Change *c)
{
	TupleDesc	desc = c->shape->desc;

	if (strcmp(c->shape->name, p->table) == 0)
	{
		int			key = attnum_of(desc, p->key);
		Datum	   *old;
		Datum	   *new;
		bool	   *null_old;
		bool	   *null_new;
		bool		allowed;

		if (!c->old || !c->new || key <= 0 || key > desc->natts)
			return false;
		/* both rows deformed once: one pass each, not one per column */
		old = (Datum *) palloc(desc->natts * sizeof(Datum));
		new = (Datum *) palloc(desc->natts * sizeof(Datum));
		null_old = (bool *) palloc(desc->natts * sizeof(bool));
		null_new = (bool *) palloc(desc->natts * sizeof(bool));
		heap_deform_tuple(c->old, desc, old, null_old);
		heap_deform_tuple(c->new, desc, new, null_new);
		allowed = key_value(p, desc, key, old[key - 1], null_old[key - 1]) &&
			key_value(p, desc, key, new[key - 1], null_new[key - 1]);
		for (int i = 0; allowed && i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (a->attisdropped)
				continue;
			if (null_old[i] && null_new[i])
				continue;
			if (null_old[i] == null_new[i] && datumIsEqual(old[i], new[i], a->attbyval, a->attlen))
				continue;
			if (!named(p->writable, p->n_writable, NameStr(a->attname)) ||
				named(p->fixed, p->n_fixed, NameStr(a->attname)))
				allowed = false;
		}
		pfree(old);
		pfree(new);
		pfree(null_old);
		pfree(null_new);
		return allowed;
	}
	for (int s = 0; s < p->n_side; s++)
	{
		char		op = !c->old ? 'i' : !c->new ? 'd' : 'u';
		int			col;

		if (!p->side_tables[s] || strcmp(p->side_tables[s], c->shape->name) != 0 ||
			!p->side_ops[s] || !strchr(p->side_ops[s], op) || !p->side_columns[s])
			continue;
		col = attnum_of(desc, p->side_columns[s]);
		if ((!c->old || holds_key(p, c->old, desc, col)) && (!c->new || holds_key(p, c->new, desc, col)))
			return true;
	}
	return false;
}

/*
 * `SET rowguard_tripwire.arm = '<value>'`: begins the operation's
 * transaction block (the arm is its first statement, as a BEGIN would be)
 * and arms the session with the value's commitment and policy. The GUC
 * machinery never sees the value: nothing to undo at transaction end,
 * nothing SHOW could print.
 */
static void
arm(VariableSetStmt *stmt, ProcessUtilityContext context)
{
	A_Const    *value = list_length(stmt->args) == 1 ? (A_Const *) linitial(stmt->args) : NULL;
	char		hash[RG_DIGEST_HEX + 1];
	RgPolicy   *p = NULL;
	bool		ok;
	MemoryContext caller;

	if (context != PROCESS_UTILITY_TOPLEVEL || IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("rowguard tripwire: the arm begins the operation's transaction: send it alone, outside a transaction block")));
	if (session_armed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("rowguard tripwire: the session is armed already (a settled COMMIT or disarm(token) ends it)")));
	refuse_replica_role();
	/* the policy lives as long as the transaction it arms (arm.c parses) */
	ok = value && IsA(value, A_Const) && !value->isnull && IsA(&value->val, String);
	caller = MemoryContextSwitchTo(TopTransactionContext);
	if (ok)
	{
		const char *s = strVal(&value->val);
		size_t		len = strlen(s);

		ok = rg_parse_arm(pnstrdup(s, len), len, palloc, hash, &p);
	}
	MemoryContextSwitchTo(caller);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rowguard tripwire: arm with the token's SHA-256 in lowercase hex, then the policy")));
	BeginTransactionBlock();
	memcpy(commitment, hash, RG_DIGEST_HEX + 1);
	policy = p;
	session_armed = true;
	armed_generation = generation;
	settled = false;
}

#define SETTLE_SAVEPOINT "rowguard_settle_"

/*
 * Both settles' check: when every captured row is certainly allowed, the
 * capture is emptied and the transaction marked settled (true); otherwise
 * nothing changes (false).
 */
static bool
settle_rows(void)
{
	ListCell   *lc;

	foreach(lc, changes)
	{
		if (!policy || !certainly_allowed(policy, (Change *) lfirst(lc)))
			return false;
	}
	changes = NIL;
	captured_bytes = 0;
	settled = true;
	return true;
}

/* The clean path: every captured row certainly allowed, or an ERROR. */
static void
settle(const char *t)
{
	int			code;
	const char *why = refused(t, strlen(t), &code);

	if (why)
		ereport(ERROR, (errcode(code), errmsg("%s", why)));
	refuse_replica_role();
	if (!settle_rows())
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('R', 'G', '0', '0', '1')),
				 errmsg("rowguard tripwire: not settled on the server")));
}

/*
 * settle(token text), a procedure: `CALL rowguard_tripwire.settle($1)`,
 * prepared once and bound with the token, is the clean path's settle and
 * COMMIT in one statement the server neither parses nor plans again, with
 * no savepoint: the utility hook takes the CALL (the procedure's body
 * never runs), checks the token and every captured row and, when each one
 * is certainly allowed, ends the transaction block as COMMIT does (the
 * commit itself, and the gate at it, run when the statement's transaction
 * command ends) and completes as `SELECT 1`. When a row is not certainly
 * allowed it changes nothing and completes as `SELECT 0`: the transaction
 * and its capture stay as they were, for take(token) and the judge. Only
 * at the top level, in the armed transaction, with the token.
 */
Datum
rowguard_tripwire_settle(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("rowguard tripwire: settle() is taken by the module's hook: CALL it alone, at the top level")));
	PG_RETURN_VOID();
}

/*
 * The call's one argument as text: a text constant, or a bound text
 * parameter; NULL for anything else (a NULL, another type, an expression).
 */
static text *
call_text_arg(CallStmt *call, ParamListInfo params)
{
	Node	   *arg;

	if (!call->funcexpr || list_length(call->funcexpr->args) != 1)
		return NULL;
	arg = (Node *) linitial(call->funcexpr->args);
	if (IsA(arg, Const))
	{
		Const	   *c = (Const *) arg;

		if (c->consttype != TEXTOID || c->constisnull)
			return NULL;
		return DatumGetTextPP(c->constvalue);
	}
	if (IsA(arg, Param))
	{
		Param	   *p = (Param *) arg;
		ParamExternData workspace;
		ParamExternData *prm;

		if (p->paramkind != PARAM_EXTERN || p->paramtype != TEXTOID || !params ||
			p->paramid < 1 || p->paramid > params->numParams)
			return NULL;
		if (params->paramFetch)
			prm = params->paramFetch(params, p->paramid, false, &workspace);
		else
			prm = &params->params[p->paramid - 1];
		if (!prm || prm->isnull || prm->ptype != TEXTOID)
			return NULL;
		return DatumGetTextPP(prm->value);
	}
	return NULL;
}

/*
 * The procedure found to be settle(), kept until any change to pg_proc
 * (forget_settle_proc): a CALL of it skips the function lookup.
 */
static Oid	settle_proc = InvalidOid;

static void
forget_settle_proc(Datum arg, int cacheid, uint32 hashvalue)
{
	settle_proc = InvalidOid;
}

/* `CALL` of this module's settle(): its function is this file's. */
static bool
calls_settle(CallStmt *call)
{
	FmgrInfo	f;

	if (!call->funcexpr)
		return false;
	if (OidIsValid(settle_proc) && call->funcexpr->funcid == settle_proc)
		return true;
	fmgr_info(call->funcexpr->funcid, &f);
	if (f.fn_addr != rowguard_tripwire_settle)
		return false;
	settle_proc = call->funcexpr->funcid;
	return true;
}

static void
settle_call(CallStmt *call, ParamListInfo params, ProcessUtilityContext context, QueryCompletion *qc)
{
	text	   *t;
	int			code;
	const char *why;

	if (context != PROCESS_UTILITY_TOPLEVEL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("rowguard tripwire: settle() ends the operation's transaction: CALL it alone, at the top level")));
	t = call_text_arg(call, params);
	if (!t)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("rowguard tripwire: reading the capture without the operation's token")));
	why = refused(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &code);
	if (why)
		ereport(ERROR, (errcode(code), errmsg("%s", why)));
	/* once: a settled (or taken) transaction is COMMIT's to end */
	if (settled || !IsTransactionBlock() || TransactionBlockStatusCode() != 'T')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("rowguard tripwire: the operation's transaction is settled or over already")));
	refuse_replica_role();
	if (!settle_rows())
	{
		/* for take(token) and the judge: nothing changed */
		if (qc)
			SetQueryCompletion(qc, CMDTAG_SELECT, 0);
		return;
	}
	/* COMMIT's own step: the transaction commits as the command ends */
	if (!EndTransactionBlock(false))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("rowguard tripwire: the operation's transaction cannot commit")));
	if (qc)
		SetQueryCompletion(qc, CMDTAG_SELECT, 1);
}

/* `SET`/`RESET session_replication_role`, or `RESET ALL` (which resets it too). */
static bool
sets_replication_role(VariableSetStmt *set)
{
	return set->kind == VAR_RESET_ALL ||
		(set->name && strcmp(set->name, "session_replication_role") == 0);
}

/*
 * While an operation is armed, only utility statements that change
 * neither a table, a trigger, a rule, nor what the capture sees run:
 * transaction control and savepoints, SET and SHOW of settings (but
 * session_replication_role), cursors, prepared statements, LISTEN/NOTIFY,
 * LOCK, SET CONSTRAINTS, COPY TO, CALL
 * and DO (the statements inside come back through this hook) and EXPLAIN
 * of a query. Everything else (all DDL, ALTER TABLE of any kind,
 * DISABLE/DROP TRIGGER, RENAME, CREATE RULE, CLUSTER, DISCARD, LOAD, ...)
 * is refused: an allow-list, so a statement this list does not know is
 * refused too. Unarmed sessions pay one branch.
 */
static void
refuse_unless_harmless(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_TransactionStmt:
		case T_VariableShowStmt:
		case T_DeclareCursorStmt:
		case T_FetchStmt:
		case T_ClosePortalStmt:
		case T_PrepareStmt:
		case T_ExecuteStmt:
		case T_DeallocateStmt:
		case T_NotifyStmt:
		case T_ListenStmt:
		case T_UnlistenStmt:
		case T_LockStmt:
		case T_ConstraintsSetStmt:
		case T_CallStmt:
		case T_DoStmt:
			return;
		case T_VariableSetStmt:
			if (!sets_replication_role((VariableSetStmt *) stmt))
				return;
			break;
		case T_CopyStmt:
			/* COPY TO reads; COPY FROM writes outside the executor's checks */
			if (!((CopyStmt *) stmt)->is_from)
				return;
			break;
		case T_ExplainStmt:
			{
				Node	   *query = ((ExplainStmt *) stmt)->query;

				if (query && IsA(query, Query) && ((Query *) query)->commandType != CMD_UTILITY)
					return;
			}
			break;
		default:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("rowguard tripwire: %s is refused while an operation is armed",
					GetCommandTagName(CreateCommandTag(stmt)))));
}

/*
 * The utility hook: takes the arm (see arm()); and `SAVEPOINT
 * rowguard_settle_<token>` names the token, the COMMIT after it settling
 * before the transaction ends (inside the savepoint, so a refusal leaves
 * the transaction alive).
 */
static void
tripwire_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				 ProcessUtilityContext context, ParamListInfo params,
				 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	TransactionStmt *t = IsA(stmt, TransactionStmt) ? (TransactionStmt *) stmt : NULL;
	VariableSetStmt *set = IsA(stmt, VariableSetStmt) ? (VariableSetStmt *) stmt : NULL;

	if (set && set->kind == VAR_SET_VALUE && set->name && strcmp(set->name, ARM_SETTING) == 0)
	{
		arm(set, context);
		return;
	}
	if (IsA(stmt, CallStmt) && calls_settle((CallStmt *) stmt))
	{
		settle_call((CallStmt *) stmt, params, context, qc);
		return;
	}
	if (session_armed)
		refuse_unless_harmless(stmt);
	if (t && t->kind == TRANS_STMT_COMMIT && settle_token && session_armed && !settled)
		settle(settle_token);
	(next_utility ? next_utility : standard_ProcessUtility) (pstmt, queryString, readOnlyTree, context,
															  params, queryEnv, dest, qc);
	if (t && t->kind == TRANS_STMT_SAVEPOINT && session_armed && t->savepoint_name &&
		strncmp(t->savepoint_name, SETTLE_SAVEPOINT, strlen(SETTLE_SAVEPOINT)) == 0)
		settle_token = MemoryContextStrdup(TopTransactionContext, t->savepoint_name + strlen(SETTLE_SAVEPOINT));
}

/*
 * The executor hook: while an operation is armed, a statement writing a
 * system catalog (a superuser's `UPDATE pg_trigger SET tgenabled = 'D'`
 * disables a capture trigger without DDL) is refused. Unarmed sessions pay
 * one branch; armed ones a look at each statement's result relations.
 */
static void
tripwire_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (session_armed && queryDesc->plannedstmt)
	{
		PlannedStmt *pstmt = queryDesc->plannedstmt;
		ListCell   *lc;

		foreach(lc, pstmt->resultRelations)
		{
			RangeTblEntry *rte = rt_fetch(lfirst_int(lc), pstmt->rtable);

			if (IsCatalogRelationOid(rte->relid))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("rowguard tripwire: writing the system catalog %u is refused while an operation is armed",
								rte->relid)));
		}
	}
	(next_executor_start ? next_executor_start : standard_ExecutorStart) (queryDesc, eflags);
}

/*
 * A row as jsonb text, as `to_jsonb(row)` prints it, read with `desc`, the
 * row type it was captured with (a record type of this backend's).
 */
static Datum
image(HeapTuple tuple, TupleDesc desc)
{
	Datum		json;
	Datum		jsonb;

	if (desc->tdtypmod < 0)
		BlessTupleDesc(desc);
	json = DirectFunctionCall1(row_to_json, heap_copy_tuple_as_datum(tuple, desc));
	jsonb = DirectFunctionCall1(jsonb_in, CStringGetDatum(text_to_cstring(DatumGetTextPP(json))));

	return CStringGetTextDatum(DatumGetCString(DirectFunctionCall1(jsonb_out, jsonb)));
}

PG_FUNCTION_INFO_V1(rowguard_tripwire_take);

/*
 * take(token text) returns table (tbl text, old text, new text): every
 * captured row, in order; they count as checked (the caller judges them
 * before it commits).
 */
Datum
rowguard_tripwire_take(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	check_token(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, changes)
	{
		Change	   *c = (Change *) lfirst(lc);
		Datum		values[3];
		bool		nulls[3] = {false, c->old == NULL, c->new == NULL};

		values[0] = CStringGetTextDatum(c->shape->name);
		values[1] = c->old ? image(c->old, c->shape->desc) : (Datum) 0;
		values[2] = c->new ? image(c->new, c->shape->desc) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	changes = NIL;
	captured_bytes = 0;
	settled = true;
	return (Datum) 0;
}
