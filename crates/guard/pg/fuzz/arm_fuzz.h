/*
 * arm_fuzz.h: one input through the tripwire's arm parser and token check
 * with every check of arm_fuzz.c, for the fuzzer and for replay.c.
 */
#ifndef ROWGUARD_ARM_FUZZ_H
#define ROWGUARD_ARM_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs one input (aborts on a broken check); true when the parser accepted it. */
extern bool arm_fuzz_one(const uint8_t *data, size_t size);

#endif
