/*
 * arm.c: the tripwire's parser of client bytes (see arm.h), plain C: the
 * arm's netstrings ("<length>:<bytes>,"), in order: the token's SHA-256
 * (lowercase hex); then, when the server can check the clean path, the
 * policy: table, key column; two lists each led by its count: fixed
 * columns, writable columns; the count of side effects and, for each, its
 * table, column and ops ("iud"); then two more lists: integer keys
 * (decimal) and text keys. And the token check against the commitment.
 *
 * Every length is read digit by digit with a bound on its digits, then
 * compared with the bytes left (`end - at`, never negative: `at` never
 * passes `end`) before it is added to a pointer.
 */
#include <string.h>

#include "arm.h"

/* a netstring's length has at most this many digits (< 10^9 bytes) */
#define LENGTH_DIGITS_MAX 9
/* the smallest netstring, "0:,", so a list of n items needs 3n bytes */
#define NETSTRING_MIN 3

typedef struct Cursor
{
	char	   *at;
	char	   *end;
	bool		ok;
	rg_alloc_fn alloc;
} Cursor;

static size_t
left(const Cursor *c)
{
	return (size_t) (c->end - c->at);
}

/*
 * The next netstring, NUL-terminated in place (its comma becomes the NUL),
 * and its length in `*len`; NULL (and the cursor failed) when malformed.
 */
static char *
next(Cursor *c, size_t *len)
{
	char	   *p;
	size_t		n = 0;
	int			digits = 0;
	size_t		rest;

	if (!c->ok)
		return NULL;
	p = c->at;
	while (p < c->end && *p >= '0' && *p <= '9')
	{
		if (digits == LENGTH_DIGITS_MAX || (digits == 1 && n == 0))
		{
			/* too long, or a leading zero */
			c->ok = false;
			return NULL;
		}
		n = n * 10 + (size_t) (*p - '0');
		digits++;
		p++;
	}
	if (digits == 0 || p == c->end || *p != ':')
	{
		c->ok = false;
		return NULL;
	}
	p++;
	/* the item's n bytes and its comma: n + 1 <= rest, with rest >= 0 */
	rest = (size_t) (c->end - p);
	if (rest == 0 || n > rest - 1 || p[n] != ',')
	{
		c->ok = false;
		return NULL;
	}
	p[n] = '\0';
	c->at = p + n + 1;
	if (len)
		*len = n;
	return p;
}

/* The next netstring as a name: no NUL inside. */
static char *
next_name(Cursor *c)
{
	size_t		len = 0;
	char	   *s = next(c, &len);

	if (s && memchr(s, '\0', len) != NULL)
	{
		c->ok = false;
		return NULL;
	}
	return s;
}

/* `n` bytes at `s` as a non-negative decimal no greater than `max`, or -1. */
static long
decimal(const char *s, size_t n, long max)
{
	long		v = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/* A list's count: at most RG_LIST_MAX, and no more items than bytes can hold. */
static int
count(Cursor *c)
{
	size_t		len = 0;
	char	   *s = next(c, &len);
	long		v = s ? decimal(s, len, RG_LIST_MAX) : -1;

	if (v < 0 || (size_t) v > left(c) / NETSTRING_MIN)
	{
		c->ok = false;
		return 0;
	}
	return (int) v;
}

/* `n` + 1 elements of `size` bytes (n <= RG_LIST_MAX: no overflow), or NULL. */
static void *
array(Cursor *c, int n, size_t size)
{
	void	   *a;

	if (!c->ok)
		return NULL;
	a = c->alloc(((size_t) n + 1) * size);
	if (!a)
		c->ok = false;
	else
		memset(a, 0, ((size_t) n + 1) * size);
	return a;
}

static char **
names(Cursor *c, int *n)
{
	char	  **out;

	*n = count(c);
	out = (char **) array(c, *n, sizeof(char *));
	for (int i = 0; c->ok && i < *n; i++)
		out[i] = next_name(c);
	if (!c->ok)
		*n = 0;
	return out;
}

/* `n` bytes at `s` as a decimal int64 (an optional '-'), or false. */
static bool
int64_of(const char *s, size_t n, int64_t *out)
{
	bool		negative = n > 0 && s[0] == '-';
	size_t		i = negative ? 1 : 0;
	uint64_t	v = 0;
	/* the magnitude's bound: INT64_MAX, or INT64_MAX + 1 for a negative */
	uint64_t	max = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

	if (i == n || (n - i > 1 && s[i] == '0'))
		return false;
	for (; i < n; i++)
	{
		unsigned	d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned) (s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (negative && v == 0)
		return false;			/* "-0": one spelling per key */
	if (negative)
		*out = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
	else
		*out = (int64_t) v;
	return true;
}

/* The policy at `c`; NULL when malformed (the cursor failed). */
static RgPolicy *
parse_policy(Cursor *c)
{
	RgPolicy   *p = (RgPolicy *) c->alloc(sizeof(RgPolicy));

	if (!p)
		return NULL;
	memset(p, 0, sizeof(RgPolicy));
	p->table = next_name(c);
	p->key = next_name(c);
	p->fixed = names(c, &p->n_fixed);
	p->writable = names(c, &p->n_writable);
	p->n_side = count(c);
	p->side_tables = (char **) array(c, p->n_side, sizeof(char *));
	p->side_columns = (char **) array(c, p->n_side, sizeof(char *));
	p->side_ops = (char **) array(c, p->n_side, sizeof(char *));
	for (int i = 0; c->ok && i < p->n_side; i++)
	{
		p->side_tables[i] = next_name(c);
		p->side_columns[i] = next_name(c);
		p->side_ops[i] = next_name(c);
	}
	p->n_int_keys = count(c);
	p->int_keys = (int64_t *) array(c, p->n_int_keys, sizeof(int64_t));
	for (int i = 0; c->ok && i < p->n_int_keys; i++)
	{
		size_t		len = 0;
		char	   *k = next(c, &len);

		if (k && !int64_of(k, len, &p->int_keys[i]))
			c->ok = false;
	}
	p->n_text_keys = count(c);
	p->text_keys = (char **) array(c, p->n_text_keys, sizeof(char *));
	p->text_key_lens = (size_t *) array(c, p->n_text_keys, sizeof(size_t));
	for (int i = 0; c->ok && i < p->n_text_keys; i++)
		p->text_keys[i] = next(c, &p->text_key_lens[i]);
	return c->ok && c->at == c->end ? p : NULL;
}

bool
rg_parse_arm(char *value, size_t len, rg_alloc_fn alloc,
			 char digest_hex[RG_DIGEST_HEX + 1], RgPolicy **policy)
{
	Cursor		c;
	char	   *hash;
	size_t		hash_len = 0;

	*policy = NULL;
	digest_hex[0] = '\0';
	if (!value || !alloc)
		return false;
	c.at = value;
	c.end = value + len;
	c.ok = true;
	c.alloc = alloc;
	hash = next(&c, &hash_len);
	if (!hash || hash_len != RG_DIGEST_HEX || strspn(hash, "0123456789abcdef") != RG_DIGEST_HEX)
		return false;
	if (c.at != c.end)
	{
		RgPolicy   *p = parse_policy(&c);

		if (!p)
			return false;
		*policy = p;
	}
	memcpy(digest_hex, hash, RG_DIGEST_HEX);
	digest_hex[RG_DIGEST_HEX] = '\0';
	return true;
}

bool
rg_token_opens(const char *digest_hex, const char *token, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[SHA256_BYTES];
	unsigned	diff = 0;

	if (!digest_hex || !token || len < RG_TOKEN_MIN || len > RG_TOKEN_MAX ||
		strlen(digest_hex) != RG_DIGEST_HEX)
		return false;
	rowguard_sha256((const unsigned char *) token, len, digest);
	for (int i = 0; i < SHA256_BYTES; i++)
	{
		diff |= (unsigned) (hex[digest[i] >> 4] ^ digest_hex[2 * i]);
		diff |= (unsigned) (hex[digest[i] & 15] ^ digest_hex[2 * i + 1]);
	}
	return diff == 0;
}
