/*
 * alloc.h — which warehouses an order ships from: a pure function (no storage, no locks), so that the rule
 * is one place, tested on its own (tests/unit/test_alloc.c), and the same whatever the storage backend.
 *
 * Input: n order lines with the units each asks for (qty[i] > 0), and w candidate warehouses serving the
 * buyer's country in preference order (the buyer's state first, then by id: see mer_stock_reserve_send), with
 * avail[i * w + k] the units of line i's SKU available (on_hand - reserved) in candidate k.
 *
 * The rule, in order:
 *   1. one warehouse that can fill every line: the first such candidate (so an order that fits in one
 *      warehouse ships as one parcel, from the same warehouse as before split shipments existed);
 *   2. otherwise the fewest warehouses that together can fill every line, a line possibly split across
 *      them; among sets of that size, the first in lexicographic order of candidate positions (so the
 *      answer depends only on the input: two runs never split an order differently);
 *   3. in that set, each line takes its units from the chosen warehouses in candidate order, as many as
 *      each has, until the line is full.
 * Because a line may be split, a set can fill the order exactly when, for every line, the units of the set
 * add up to the quantity; the search tries sets by growing size and stops at the first that fits.
 *
 * Returns the number of warehouses used (1..w), with take[i * w + k] the units of line i to take from
 * candidate k (0 for the others), or 0 when even all candidates together cannot fill the order, with
 * *short_line the first line they cannot fill (no candidate at all: 0, line 0). n is at most
 * MER_ALLOC_MAX_LINES; candidates beyond MER_ALLOC_MAX_WAREHOUSES are ignored (the caller reads no more).
 * take holds n * w entries; the caller owns every array.
 */
#ifndef MER_ALLOC_H
#define MER_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#define MER_ALLOC_MAX_WAREHOUSES 16
#define MER_ALLOC_MAX_LINES 64

size_t mer_stock_allocate(const int64_t *qty, size_t n, const int64_t *avail, size_t w, int64_t *take,
                          size_t *short_line);

#endif
