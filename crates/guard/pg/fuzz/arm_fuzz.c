/*
 * arm_fuzz.c: the libFuzzer target for the tripwire's parser of client
 * bytes (../arm.c) and its SHA-256 (../sha256.c), built without the
 * server's headers, with malloc for palloc (.ci/c-fuzz.sh builds it with
 * -fsanitize=fuzzer,address,undefined).
 *
 * Each input is an arm value, copied into a buffer of exactly its size so
 * that AddressSanitizer sees any read or write past it. What it checks
 * beyond the sanitizers: a value the parser accepts is the canonical
 * netstrings of what it returned (printed back, byte for byte), every
 * count it returned fits in the input, and the token check agrees with
 * the SHA-256 computed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "arm_fuzz.h"

/* every allocation of one input, freed after it (LeakSanitizer stays quiet) */
#define ARENA_SLOTS 64
static void *arena[ARENA_SLOTS];
static int	arena_used;

static void *
arena_alloc(size_t size)
{
	void	   *p;

	if (arena_used == ARENA_SLOTS)
		return NULL;			/* the parser must survive a failed allocation */
	p = malloc(size);
	if (p)
		arena[arena_used++] = p;
	return p;
}

static void
arena_free(void)
{
	while (arena_used > 0)
		free(arena[--arena_used]);
}

/* a growing copy of the netstrings the parsed arm prints back as */
typedef struct Out
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Out;

static void
put(Out *o, const char *s, size_t n)
{
	char		head[32];
	int			h = snprintf(head, sizeof(head), "%zu:", n);

	if (o->len + (size_t) h + n + 1 > o->cap)
	{
		o->cap = (o->len + (size_t) h + n + 1) * 2;
		o->data = realloc(o->data, o->cap);
		if (!o->data)
			abort();
	}
	memcpy(o->data + o->len, head, (size_t) h);
	o->len += (size_t) h;
	memcpy(o->data + o->len, s, n);
	o->len += n;
	o->data[o->len++] = ',';
}

static void
put_str(Out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_int(Out *o, long long v)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	put_str(o, buf);
}

static void
check(bool ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "arm_fuzz: %s\n", what);
		abort();
	}
}

bool
arm_fuzz_one(const uint8_t *data, size_t size)
{
	char	   *value = malloc(size ? size : 1);
	char	   *original = malloc(size ? size : 1);
	char		digest[RG_DIGEST_HEX + 1];
	RgPolicy   *p = NULL;
	bool		ok;

	check(value && original, "out of memory");
	memcpy(value, data, size);
	memcpy(original, data, size);
	ok = rg_parse_arm(value, size, arena_alloc, digest, &p);
	if (ok)
	{
		Out			o = {NULL, 0, 0};

		check(strlen(digest) == RG_DIGEST_HEX, "digest length");
		put_str(&o, digest);
		if (p)
		{
			size_t		budget = size / 3;

			check(p->n_fixed >= 0 && (size_t) p->n_fixed <= budget, "fixed count");
			check(p->n_writable >= 0 && (size_t) p->n_writable <= budget, "writable count");
			check(p->n_side >= 0 && (size_t) p->n_side <= budget, "side count");
			check(p->n_int_keys >= 0 && (size_t) p->n_int_keys <= budget, "int key count");
			check(p->n_text_keys >= 0 && (size_t) p->n_text_keys <= budget, "text key count");
			put_str(&o, p->table);
			put_str(&o, p->key);
			put_int(&o, p->n_fixed);
			for (int i = 0; i < p->n_fixed; i++)
				put_str(&o, p->fixed[i]);
			put_int(&o, p->n_writable);
			for (int i = 0; i < p->n_writable; i++)
				put_str(&o, p->writable[i]);
			put_int(&o, p->n_side);
			for (int i = 0; i < p->n_side; i++)
			{
				put_str(&o, p->side_tables[i]);
				put_str(&o, p->side_columns[i]);
				put_str(&o, p->side_ops[i]);
			}
			put_int(&o, p->n_int_keys);
			for (int i = 0; i < p->n_int_keys; i++)
				put_int(&o, (long long) p->int_keys[i]);
			put_int(&o, p->n_text_keys);
			for (int i = 0; i < p->n_text_keys; i++)
				put(&o, p->text_keys[i], p->text_key_lens[i]);
		}
		check(o.len == size && memcmp(o.data, original, size) == 0,
			  "an accepted value is not the canonical netstrings of what was parsed");
		free(o.data);

		/* the token check: the input's own bytes against the parsed digest */
		if (size >= RG_TOKEN_MIN && size <= RG_TOKEN_MAX)
			(void) rg_token_opens(digest, original, size);
	}
	arena_free();

	/* SHA-256 of any length, and the token check's agreement with it */
	{
		static const char hex[] = "0123456789abcdef";
		unsigned char d[SHA256_BYTES];
		char		h[RG_DIGEST_HEX + 1];

		rowguard_sha256((const unsigned char *) original, size, d);
		for (int i = 0; i < SHA256_BYTES; i++)
		{
			h[2 * i] = hex[d[i] >> 4];
			h[2 * i + 1] = hex[d[i] & 15];
		}
		h[RG_DIGEST_HEX] = '\0';
		check(rg_token_opens(h, original, size) == (size >= RG_TOKEN_MIN && size <= RG_TOKEN_MAX),
			  "the token check disagrees with SHA-256");
		if (size >= RG_TOKEN_MIN && size <= RG_TOKEN_MAX)
		{
			h[size % RG_DIGEST_HEX] = h[size % RG_DIGEST_HEX] == '0' ? '1' : '0';
			check(!rg_token_opens(h, original, size), "a wrong digest opens");
		}
	}
	free(value);
	free(original);
	return ok;
}

#ifndef ARM_FUZZ_NO_MAIN
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void) arm_fuzz_one(data, size);
	return 0;
}
#endif
