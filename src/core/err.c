#include "core/err.h"

#include "core/common.h"
#include "core/banned.h"

static const struct {
    const char *code;
    int status;
    const char *message;
} err_table[] = {
#define MER_ERR_ROW(name, code, status, msg) {code, status, msg},
    MER_ERR_MAP(MER_ERR_ROW)
#undef MER_ERR_ROW
};

static int err_index(int err)
{
    int i = err - (MER_E__FIRST + 1);
    if (i < 0 || i >= (int)MER_ARRAY_LEN(err_table))
        return MER_E_INTERNAL - (MER_E__FIRST + 1);
    return i;
}

const char *mer_err_code(int err)
{
    return err_table[err_index(err)].code;
}

int mer_err_status(int err)
{
    return err_table[err_index(err)].status;
}

const char *mer_err_message(int err)
{
    return err_table[err_index(err)].message;
}
