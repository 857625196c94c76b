/*
 * arm.h: every read of client bytes in rowguard's PostgreSQL tripwire, in
 * plain C without the server's headers: the arm's netstrings and policy,
 * the token check against the armed commitment. rowguard_tripwire.c calls
 * it with palloc; crates/guard/pg/fuzz/ builds it with malloc under
 * libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer
 * (.ci/c-fuzz.sh).
 *
 * The rule it keeps: a length read from the input is compared with the
 * bytes left before any arithmetic uses it, no subtraction can go below
 * zero, and nothing is read or written outside [value, value + len).
 */
#ifndef ROWGUARD_ARM_H
#define ROWGUARD_ARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

#define RG_DIGEST_HEX (SHA256_BYTES * 2)
#define RG_TOKEN_MIN 16
#define RG_TOKEN_MAX 128
/* a list in the policy holds at most this many items */
#define RG_LIST_MAX 100000

/* The allocator the parser uses: palloc in the server, malloc when fuzzed. */
typedef void *(*rg_alloc_fn) (size_t size);

/* The clean-path policy, as the arm carries it. */
typedef struct RgPolicy
{
	char	   *table;
	char	   *key;
	int			n_int_keys;
	int64_t    *int_keys;
	int			n_text_keys;
	char	  **text_keys;		/* bytes, not NUL-free: see text_key_lens */
	size_t	   *text_key_lens;
	int			n_fixed;
	char	  **fixed;
	int			n_writable;
	char	  **writable;
	int			n_side;
	char	  **side_tables;
	char	  **side_columns;
	char	  **side_ops;		/* letters among "iud" */
} RgPolicy;

/*
 * Parses the arm's value, `len` bytes at `value` (need not end in a NUL;
 * the parser writes NULs over the netstrings' commas, inside those bytes).
 * On success returns true, with the token's SHA-256 as lowercase hex in
 * `digest_hex` (NUL-terminated) and `*policy` the policy, or NULL when the
 * value carries none. On any malformed value returns false; whatever it
 * allocated is the caller's to free (the server: the memory context).
 */
extern bool rg_parse_arm(char *value, size_t len, rg_alloc_fn alloc,
						 char digest_hex[RG_DIGEST_HEX + 1], RgPolicy **policy);

/* `token` (`len` bytes) hashes to `digest_hex` (lowercase hex, NUL-terminated). */
extern bool rg_token_opens(const char *digest_hex, const char *token, size_t len);

#endif
