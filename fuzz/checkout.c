/*
 * checkout.c — fuzzes the body checks of POST /api/v1/orders (src/order/checkout_input.h): the body's
 * keys, an inline address (then the address rules of the customer's country, as checkout applies them;
 * IN here) and the lines. A flash_token counts as one line already taken, as in checkout.
 *
 * Input: the body of the POST. Properties: errors carry a field and a message; accepted lines are
 * 1..MER_ORDER_MAX_LINES with SKU codes of 1-64 bytes and quantities 1-1000, as many as were sent.
 */
#include <string.h>

#include "fuzz.h"
#include "inventory/inventory.h"
#include "order/checkout_input.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_countries_load();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_json(data, size);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    mer_checkout_in_t in;
    mer_verr_t e = {0};
    if (mer_checkout_input_read(body, &in, &e) != 0) {
        FUZZ_CHECK(e.code != 0 && e.message[0] != '\0');
        json_decref(body);
        return 0;
    }
    FUZZ_CHECK(in.payment_method != NULL && in.expected_total >= -1);
    if (in.address) {
        static mer_address_t addr; /* 5.6 kB: not on the fuzzer's stack */
        memset(&addr, 0, sizeof(addr));
        mer_verr_t ea = {0};
        if (mer_checkout_input_address(in.address, &addr, &ea) == 0) {
            const mer_country_t *c = fuzz_country("IN");
            mer_address_in_t ain = {addr.name,  addr.line1,       addr.line2, addr.city,
                                    addr.state, addr.postal_code, addr.phone};
            mer_verr_t ec = {0};
            if (mer_country_check_address(c, &ain, &ec) != 0)
                FUZZ_CHECK(ec.field[0] != '\0');
        } else {
            FUZZ_CHECK(strncmp(ea.field, "address", 7) == 0);
        }
    }
    if (in.lines) {
        mer_checkout_want_t want[MER_ORDER_MAX_LINES];
        size_t n = 0, taken = in.flash_token ? 1 : 0;
        mer_verr_t el = {0};
        if (mer_checkout_input_lines(in.lines, taken, MER_ORDER_MAX_LINES, want, &n, &el) == 0) {
            FUZZ_CHECK(n == json_array_size(in.lines) && n >= 1 && n + taken <= MER_ORDER_MAX_LINES);
            for (size_t i = 0; i < n; i++) {
                size_t len = strnlen(want[i].code, sizeof(want[i].code));
                FUZZ_CHECK(len >= 1 && len <= 64 && want[i].sku_id == 0);
                FUZZ_CHECK(want[i].quantity >= 1 && want[i].quantity <= 1000);
            }
        } else {
            FUZZ_CHECK(strncmp(el.field, "lines", 5) == 0);
        }
    }
    json_decref(body);
    return 0;
}
