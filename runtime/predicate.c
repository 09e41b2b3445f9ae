/*
 * runtime/predicate.c - push_down_predicate: a recursive-descent parser that
 * builds a small tree (nodes and operands in two arrays, literal text in one
 * pool), and an evaluator over that tree with SQL's three-valued logic. The
 * grammar and the typing rules are in predicate.h; choosing the partitions to
 * evaluate is the caller's business.
 *
 * Bounded work: the text is at most SL_PRED_MAX_TEXT bytes and nests at most
 * SL_PRED_MAX_DEPTH levels of '(' and NOT, the only ways the grammar recurses,
 * so the parser's and the evaluator's recursion depths are bounded. AND and OR
 * chains are one n-ary node (children linked by 'next'), not a deep binary
 * tree, so "a AND b AND ... " of any length costs one level.
 *
 * Evaluation allocates nothing: numbers are compared as exact decimals straight
 * from their text (struct num below), LIKE uses the two-pointer matcher with a
 * single backtrack point, and values are read in place.
 */
#include "predicate.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

#define NONE UINT32_MAX
#define HIVE_DEFAULT_PARTITION "__HIVE_DEFAULT_PARTITION__"
#define SHOW_MAX 32 /* bytes of a token or name quoted in an error message */

/* ---- The compiled form ---- */

enum tv { TV_FALSE = 0, TV_TRUE = 1, TV_UNKNOWN = 2 };

enum key_kind { KEY_STRING, KEY_NUMERIC, KEY_BOOLEAN };

/* How a comparison compares (predicate.h, "typed by its operands"). */
enum mode { MODE_STRING, MODE_NUMERIC, MODE_BOOLEAN };

enum cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

enum opd_kind { OPD_KEY, OPD_STR, OPD_NUM, OPD_BOOL, OPD_NULL };

struct operand {
    uint8_t kind;     /* enum opd_kind */
    uint8_t key_kind; /* enum key_kind of OPD_KEY */
    uint32_t key;     /* OPD_KEY: index into the values */
    const char *text; /* OPD_STR, OPD_NUM, OPD_BOOL: in the pool or static */
    size_t len;       /* bytes of text */
};

enum node_kind {
    N_AND,     /* children a, a->next, ... (n of them) */
    N_OR,      /* same */
    N_NOT,     /* child a */
    N_CMP,     /* operands a op b */
    N_IN,      /* operand a IN operands b .. b + n - 1 */
    N_BETWEEN, /* operand a BETWEEN b AND c */
    N_ISNULL,  /* operand a IS NULL */
    N_LIKE,    /* operand a LIKE pattern operand b (a string) */
    N_VALUE,   /* operand a as a boolean */
};

struct node {
    uint8_t kind; /* enum node_kind */
    uint8_t op;   /* enum cmp of N_CMP */
    uint8_t mode; /* enum mode of N_CMP, N_IN, N_BETWEEN, N_VALUE */
    uint32_t next; /* next sibling under N_AND / N_OR, or NONE */
    uint32_t a, b, c;
    uint32_t n;
};

struct sl_pred {
    uint32_t root;          /* NONE: no condition, always true */
    struct node *nodes;     /* owned */
    uint32_t n_nodes, cap_nodes;
    struct operand *ops;    /* owned */
    uint32_t n_ops, cap_ops;
    char *pool;             /* owned; literal texts, NUL-terminated; never moves */
    size_t pool_used, pool_cap; /* bytes */
};

void sl_pred_free(struct sl_pred *p)
{
    if (!p)
        return;
    sl_free(p->nodes);
    sl_free(p->ops);
    sl_free(p->pool);
    sl_free(p);
}

/* ---- Characters ---- */

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(unsigned char c)
{
    return is_ident_start(c) || is_digit(c);
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Do a[0..a_len) and the C string b match, ASCII case-insensitively? */
static bool eq_nocase(const char *a, size_t a_len, const char *b)
{
    size_t i = 0;
    for (; i < a_len; i++) {
        if (b[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    }
    return b[i] == '\0';
}

/* The index after the UTF-8 character starting at s[i]. */
static size_t next_char(const char *s, size_t len, size_t i)
{
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

/* ---- Numbers: exact decimal comparison without conversion ---- */

/* A finite decimal as 0.DIGITS x 10^exp: sign -1/0/1 (0 for any zero), the
 * significant digits run from d to end without leading or trailing zeros,
 * possibly across the decimal point (skipped when read). */
struct num {
    int sign;
    int64_t exp;
    const char *d, *end;
};

#define NUM_EXP_CLAMP 1000000000 /* exponents beyond this are all "huge"; values are not physics */

/* Parses [space][+-]digits[.digits][(e|E)[+-]digits][space] (at least one
 * digit before the exponent). false when s is not such a number. */
static bool num_parse(const char *s, size_t len, struct num *n)
{
    const char *p = s, *e = s + len;
    const char *ip, *ip_end, *fp, *fp_end, *first = NULL, *last = NULL;
    int64_t ex = 0;
    int sign = 1;

    while (p < e && is_space((unsigned char)*p))
        p++;
    while (e > p && is_space((unsigned char)e[-1]))
        e--;
    if (p < e && (*p == '+' || *p == '-'))
        sign = *p++ == '-' ? -1 : 1;
    ip = p;
    while (p < e && is_digit((unsigned char)*p))
        p++;
    ip_end = fp = fp_end = p;
    if (p < e && *p == '.') {
        fp = ++p;
        while (p < e && is_digit((unsigned char)*p))
            p++;
        fp_end = p;
    }
    if (ip == ip_end && fp == fp_end)
        return false;
    if (p < e && (*p == 'e' || *p == 'E')) {
        int es = 1;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            es = *p++ == '-' ? -1 : 1;
        if (p == e || !is_digit((unsigned char)*p))
            return false;
        for (; p < e && is_digit((unsigned char)*p); p++) {
            if (ex < NUM_EXP_CLAMP)
                ex = ex * 10 + (*p - '0');
        }
        ex *= es;
    }
    if (p != e)
        return false;

    for (const char *q = ip; q < ip_end && !first; q++) {
        if (*q != '0')
            first = q;
    }
    if (first) {
        n->exp = (int64_t)(ip_end - first) + ex;
    } else {
        for (const char *q = fp; q < fp_end && !first; q++) {
            if (*q != '0')
                first = q;
        }
        if (!first) {
            n->sign = 0;
            n->exp = 0;
            n->d = n->end = s;
            return true;
        }
        n->exp = -(int64_t)(first - fp) + ex;
    }
    for (const char *q = fp_end; q > fp && !last; q--) {
        if (q[-1] != '0')
            last = q;
    }
    for (const char *q = ip_end; q > ip && !last; q--) {
        if (q[-1] != '0')
            last = q;
    }
    n->sign = sign;
    n->d = first;
    n->end = last;
    return true;
}

static int num_cmp(const struct num *a, const struct num *b)
{
    const char *pa = a->d, *pb = b->d;
    int mag = 0;

    if (a->sign != b->sign)
        return a->sign < b->sign ? -1 : 1;
    if (a->sign == 0)
        return 0;
    if (a->exp != b->exp) {
        mag = a->exp < b->exp ? -1 : 1;
    } else {
        for (;;) {
            if (pa < a->end && *pa == '.')
                pa++;
            if (pb < b->end && *pb == '.')
                pb++;
            if (pa == a->end || pb == b->end) {
                /* no trailing zeros: whoever has digits left is larger */
                mag = (pa != a->end) - (pb != b->end);
                break;
            }
            if (*pa != *pb) {
                mag = *pa < *pb ? -1 : 1;
                break;
            }
            pa++;
            pb++;
        }
    }
    return a->sign * mag;
}

/* "true" / "false" in any case, spaces around allowed: 1 / 0, else -1. */
static int bool_parse(const char *s, size_t len)
{
    while (len > 0 && is_space((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_space((unsigned char)s[len - 1]))
        len--;
    if (eq_nocase(s, len, "true"))
        return 1;
    if (eq_nocase(s, len, "false"))
        return 0;
    return -1;
}

/* ---- LIKE ---- */

/* Does s match the LIKE pattern (already checked: every '\' is followed by
 * '%', '_' or '\')? '_' is one UTF-8 character. The classic wildcard matcher:
 * on a mismatch, go back to the last '%' and let it take one more character;
 * earlier '%'s never need to be revisited. O(len(s) * len(pat)) at worst. */
static bool like_match(const char *s, size_t s_len, const char *pat, size_t pat_len)
{
    size_t si = 0, pi = 0;
    size_t star_pi = SIZE_MAX, star_si = 0;

    while (si < s_len) {
        if (pi < pat_len) {
            char c = pat[pi];
            size_t step = 1;
            if (c == '%') {
                while (pi < pat_len && pat[pi] == '%')
                    pi++;
                star_pi = pi;
                star_si = si;
                continue;
            }
            if (c == '_') {
                si = next_char(s, s_len, si);
                pi++;
                continue;
            }
            if (c == '\\' && pi + 1 < pat_len) {
                c = pat[pi + 1];
                step = 2;
            }
            if (s[si] == c) {
                si++;
                pi += step;
                continue;
            }
        }
        if (star_pi == SIZE_MAX)
            return false;
        star_si = next_char(s, s_len, star_si);
        si = star_si;
        pi = star_pi;
    }
    while (pi < pat_len && pat[pi] == '%')
        pi++;
    return pi == pat_len;
}

/* ---- Evaluation ---- */

/* The operand's text, or NULL for SQL NULL. */
static const char *operand_text(const struct operand *o, const char *const *values, size_t *len)
{
    const char *v;

    switch (o->kind) {
    case OPD_KEY:
        v = values ? values[o->key] : NULL;
        if (!v || strcmp(v, HIVE_DEFAULT_PARTITION) == 0)
            return NULL;
        *len = strlen(v);
        return v;
    case OPD_NULL:
        return NULL;
    default:
        *len = o->len;
        return o->text;
    }
}

/* *out = the order of a and b in mode; false when unknown (NULL, or a side
 * that does not read as the mode's type). */
static bool compare(enum mode mode, const struct operand *a, const struct operand *b,
                    const char *const *values, int *out)
{
    size_t la = 0, lb = 0;
    const char *ta = operand_text(a, values, &la);
    const char *tb = operand_text(b, values, &lb);

    if (!ta || !tb)
        return false;
    if (mode == MODE_NUMERIC) {
        struct num na, nb;
        if (!num_parse(ta, la, &na) || !num_parse(tb, lb, &nb))
            return false;
        *out = num_cmp(&na, &nb);
        return true;
    }
    if (mode == MODE_BOOLEAN) {
        int ba = bool_parse(ta, la), bb = bool_parse(tb, lb);
        if (ba < 0 || bb < 0)
            return false;
        *out = ba - bb;
        return true;
    }
    int c = memcmp(ta, tb, la < lb ? la : lb);
    *out = c != 0 ? c : (la > lb) - (la < lb);
    return true;
}

static enum tv cmp_tv(enum cmp op, enum mode mode, const struct operand *a,
                      const struct operand *b, const char *const *values)
{
    int c;
    bool r;

    if (!compare(mode, a, b, values, &c))
        return TV_UNKNOWN;
    switch (op) {
    case CMP_EQ: r = c == 0; break;
    case CMP_NE: r = c != 0; break;
    case CMP_LT: r = c < 0; break;
    case CMP_LE: r = c <= 0; break;
    case CMP_GT: r = c > 0; break;
    default: r = c >= 0; break;
    }
    return r ? TV_TRUE : TV_FALSE;
}

static enum tv and_tv(enum tv x, enum tv y)
{
    if (x == TV_FALSE || y == TV_FALSE)
        return TV_FALSE;
    return x == TV_TRUE && y == TV_TRUE ? TV_TRUE : TV_UNKNOWN;
}

/* Recursion depth is bounded by the parser (see the top of the file). */
static enum tv eval_node(const struct sl_pred *p, uint32_t i, const char *const *values)
{
    const struct node *nd = &p->nodes[i];
    const struct operand *ops = p->ops;
    size_t len = 0;
    const char *t;
    enum tv r, x;

    switch ((enum node_kind)nd->kind) {
    case N_AND:
    case N_OR: {
        /* AND: false wins, OR: true wins; otherwise unknown if any was */
        enum tv wins = nd->kind == N_AND ? TV_FALSE : TV_TRUE;
        r = nd->kind == N_AND ? TV_TRUE : TV_FALSE;
        for (uint32_t c = nd->a; c != NONE; c = p->nodes[c].next) {
            x = eval_node(p, c, values);
            if (x == wins)
                return wins;
            if (x == TV_UNKNOWN)
                r = TV_UNKNOWN;
        }
        return r;
    }
    case N_NOT:
        x = eval_node(p, nd->a, values);
        return x == TV_UNKNOWN ? TV_UNKNOWN : x == TV_TRUE ? TV_FALSE : TV_TRUE;
    case N_CMP:
        return cmp_tv((enum cmp)nd->op, (enum mode)nd->mode, &ops[nd->a], &ops[nd->b], values);
    case N_IN:
        r = TV_FALSE;
        for (uint32_t k = 0; k < nd->n; k++) {
            x = cmp_tv(CMP_EQ, (enum mode)nd->mode, &ops[nd->a], &ops[nd->b + k], values);
            if (x == TV_TRUE)
                return TV_TRUE;
            if (x == TV_UNKNOWN)
                r = TV_UNKNOWN;
        }
        return r;
    case N_BETWEEN:
        return and_tv(cmp_tv(CMP_GE, (enum mode)nd->mode, &ops[nd->a], &ops[nd->b], values),
                      cmp_tv(CMP_LE, (enum mode)nd->mode, &ops[nd->a], &ops[nd->c], values));
    case N_ISNULL:
        return operand_text(&ops[nd->a], values, &len) ? TV_FALSE : TV_TRUE;
    case N_LIKE:
        t = operand_text(&ops[nd->a], values, &len);
        if (!t)
            return TV_UNKNOWN;
        return like_match(t, len, ops[nd->b].text, ops[nd->b].len) ? TV_TRUE : TV_FALSE;
    case N_VALUE: {
        int b;
        t = operand_text(&ops[nd->a], values, &len);
        if (!t)
            return TV_UNKNOWN;
        b = bool_parse(t, len);
        return b < 0 ? TV_UNKNOWN : b ? TV_TRUE : TV_FALSE;
    }
    }
    return TV_UNKNOWN;
}

bool sl_pred_eval(const struct sl_pred *p, const char *const *values)
{
    if (!p || p->root == NONE)
        return true;
    return eval_node(p, p->root, values) == TV_TRUE;
}

/* ---- Tokens ---- */

enum tok_kind {
    T_END,
    T_IDENT,  /* bare identifier or keyword */
    T_QIDENT, /* `quoted identifier` */
    T_STR,    /* 'string' or "string" */
    T_NUM,    /* unsigned number */
    T_SIGN,   /* + or - */
    T_CMP,    /* comparison operator */
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
};

struct tok {
    enum tok_kind kind;
    size_t off, end; /* bytes of the text */
    enum cmp op;     /* T_CMP */
};

struct parser {
    const char *text;
    size_t len;                /* bytes */
    size_t pos;                /* where the lexer continues */
    struct tok tok;            /* the current token */
    size_t prev_end;           /* end of the token before it */
    const char *const *keys;   /* borrowed for the parse */
    const char *const *types;  /* borrowed; may be NULL */
    size_t n_keys;
    int depth;                 /* open '(' and NOT */
    struct sl_pred *p;         /* being built */
    struct sl_err *err;
};

/* 1-based character (not byte) position of byte offset off. */
static size_t char_col(const char *text, size_t off)
{
    size_t col = 1;
    for (size_t i = 0; i < off; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            col++;
    }
    return col;
}

static int fail_at(struct parser *ps, size_t off, const char *fmt, ...) SL_PRINTF(3, 4);

/* Sets SL_EPARSE "push_down_predicate: col N: <why>"; returns -1. */
static int fail_at(struct parser *ps, size_t off, const char *fmt, ...)
{
    char why[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    sl_err_set(ps->err, SL_EPARSE, "push_down_predicate: col %zu: %s", char_col(ps->text, off),
               why);
    return -1;
}

static int fail_oom(struct parser *ps)
{
    sl_err_set(ps->err, SL_ENOMEM, "push_down_predicate: out of memory");
    return -1;
}

/* Prints s[0..n) into out, cut at SHOW_MAX bytes with "...". */
static void show(char *out, size_t out_len, const char *s, size_t n)
{
    snprintf(out, out_len, "%.*s%s", (int)(n > SHOW_MAX ? SHOW_MAX : n), s,
             n > SHOW_MAX ? "..." : "");
}

/* ", found X" for the current token ("" at the end of the text). */
static const char *found(const struct parser *ps, char *out, size_t out_len)
{
    const struct tok *t = &ps->tok;
    char s[SHOW_MAX + 4];

    if (t->kind == T_END)
        return "";
    show(s, sizeof s, ps->text + t->off, t->end - t->off);
    if (t->kind == T_STR || t->kind == T_QIDENT || t->kind == T_NUM)
        snprintf(out, out_len, ", found %s", s);
    else if (t->kind == T_IDENT)
        snprintf(out, out_len, ", found \"%s\"", s);
    else
        snprintf(out, out_len, ", found '%s'", s);
    return out;
}

/* Reads the next token into ps->tok; -1 on a lexical error. */
static int lex(struct parser *ps)
{
    const char *s = ps->text;
    size_t i = ps->pos, n = ps->len;
    struct tok *t = &ps->tok;
    unsigned char c;

    ps->prev_end = t->end;
    while (i < n && is_space((unsigned char)s[i]))
        i++;
    t->off = i;
    t->kind = T_END;
    if (i >= n) {
        t->end = ps->pos = i;
        return 0;
    }
    c = (unsigned char)s[i];
    if (c == '\'' || c == '"' || c == '`') {
        size_t j = i + 1;
        for (;; j++) {
            if (j >= n)
                return fail_at(ps, i, c == '`' ? "unterminated `quoted` name"
                                               : "unterminated quoted string");
            if ((unsigned char)s[j] == c) {
                if (j + 1 < n && (unsigned char)s[j + 1] == c) {
                    j++; /* a doubled quote stands for itself */
                    continue;
                }
                break;
            }
        }
        t->kind = c == '`' ? T_QIDENT : T_STR;
        i = j + 1;
    } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) {
        size_t j = i;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j < n && s[j] == '.') {
            j++;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < n && is_digit((unsigned char)s[k])) {
                while (k < n && is_digit((unsigned char)s[k]))
                    k++;
                j = k;
            }
        }
        if (j < n && (is_ident((unsigned char)s[j]) || s[j] == '.')) {
            size_t k = j;
            while (k < n && (is_ident((unsigned char)s[k]) || s[k] == '.'))
                k++;
            char tok_text[SHOW_MAX + 4];
            show(tok_text, sizeof tok_text, s + i, k - i);
            return fail_at(ps, i, "invalid number \"%s\"", tok_text);
        }
        t->kind = T_NUM;
        i = j;
    } else if (is_ident_start(c)) {
        while (i < n && is_ident((unsigned char)s[i]))
            i++;
        t->kind = T_IDENT;
    } else if (c == '(' || c == ')' || c == ',') {
        t->kind = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
        i++;
    } else if (c == '+' || c == '-') {
        t->kind = T_SIGN;
        i++;
    } else if (c == '=') {
        t->kind = T_CMP;
        t->op = CMP_EQ;
        i += i + 1 < n && s[i + 1] == '=' ? 2 : 1;
    } else if (c == '!' && i + 1 < n && s[i + 1] == '=') {
        t->kind = T_CMP;
        t->op = CMP_NE;
        i += 2;
    } else if (c == '<') {
        t->kind = T_CMP;
        t->op = CMP_LT;
        i++;
        if (i < n && s[i] == '=') {
            t->op = CMP_LE;
            i++;
        } else if (i < n && s[i] == '>') {
            t->op = CMP_NE;
            i++;
        }
    } else if (c == '>') {
        t->kind = T_CMP;
        t->op = CMP_GT;
        i++;
        if (i < n && s[i] == '=') {
            t->op = CMP_GE;
            i++;
        }
    } else if (c >= 0x21 && c < 0x7f) {
        return fail_at(ps, i, "unexpected character '%c'", c);
    } else {
        return fail_at(ps, i, "unexpected byte 0x%02x", c);
    }
    t->end = ps->pos = i;
    return 0;
}

static bool is_kw(const struct parser *ps, const char *kw)
{
    return ps->tok.kind == T_IDENT &&
           eq_nocase(ps->text + ps->tok.off, ps->tok.end - ps->tok.off, kw);
}

static bool is_keyword(const char *s, size_t n)
{
    static const char *const kws[] = { "and", "or",   "not",  "in",   "between",
                                       "is",  "null", "like", "true", "false" };
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++) {
        if (eq_nocase(s, n, kws[i]))
            return true;
    }
    return false;
}

/* ---- Building ---- */

static int new_node(struct parser *ps, enum node_kind kind, uint32_t *out)
{
    struct sl_pred *p = ps->p;

    if (p->n_nodes == p->cap_nodes) {
        uint32_t cap = p->cap_nodes ? p->cap_nodes * 2 : 16;
        struct node *nodes = sl_realloc(p->nodes, cap * sizeof *nodes);
        if (!nodes)
            return fail_oom(ps);
        p->nodes = nodes;
        p->cap_nodes = cap;
    }
    struct node *nd = &p->nodes[p->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->kind = (uint8_t)kind;
    nd->next = nd->a = nd->b = nd->c = NONE;
    *out = p->n_nodes++;
    return 0;
}

static int new_operand(struct parser *ps, enum opd_kind kind, uint32_t *out)
{
    struct sl_pred *p = ps->p;

    if (p->n_ops == p->cap_ops) {
        uint32_t cap = p->cap_ops ? p->cap_ops * 2 : 16;
        struct operand *ops = sl_realloc(p->ops, cap * sizeof *ops);
        if (!ops)
            return fail_oom(ps);
        p->ops = ops;
        p->cap_ops = cap;
    }
    struct operand *o = &p->ops[p->n_ops];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    *out = p->n_ops++;
    return 0;
}

/* Copies the token's text into the pool: without its quotes and with doubled
 * quotes made single when quoted; with sign (0 = none) in front. The pool was
 * sized for every token plus a NUL and a sign each, so it never overflows. */
static const char *pool_token(struct parser *ps, const struct tok *t, char sign, size_t *len)
{
    struct sl_pred *p = ps->p;
    const char *s = ps->text + t->off;
    size_t n = t->end - t->off;
    char *out = p->pool + p->pool_used;
    size_t o = 0;

    if (sign)
        out[o++] = sign;
    if (t->kind == T_STR || t->kind == T_QIDENT) {
        char q = s[0];
        for (size_t i = 1; i + 1 < n; i++) {
            out[o++] = s[i];
            if (s[i] == q)
                i++; /* the second of a doubled quote */
        }
    } else {
        memcpy(out + o, s, n);
        o += n;
    }
    out[o] = '\0';
    p->pool_used += o + 1;
    *len = o;
    return out;
}

static enum key_kind key_kind_of(const char *type)
{
    static const char *const numeric[] = { "tinyint", "smallint", "int",  "integer", "bigint",
                                           "long",    "short",    "byte", "float",   "double",
                                           "real",    "decimal",  "dec",  "numeric" };
    size_t i = 0, n;

    if (!type)
        return KEY_STRING;
    while (is_space((unsigned char)type[i]))
        i++;
    type += i;
    n = 0;
    while (is_ident((unsigned char)type[n]))
        n++;
    for (i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        if (eq_nocase(type, n, numeric[i]))
            return KEY_NUMERIC;
    }
    if (eq_nocase(type, n, "boolean") || eq_nocase(type, n, "bool"))
        return KEY_BOOLEAN;
    return KEY_STRING;
}

/* "dt, hour" (cut with "..." when long). */
static void key_list(const struct parser *ps, char *out, size_t out_len)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < ps->n_keys; i++) {
        int w = snprintf(out + o, out_len - o, "%s%s", i ? ", " : "",
                         ps->keys[i] ? ps->keys[i] : "");
        if (w < 0 || (size_t)w >= out_len - o) {
            if (out_len >= 4)
                memcpy(out + out_len - 4, "...", 4);
            return;
        }
        o += (size_t)w;
    }
}

/* The key named name[0..n) (ASCII case-insensitive), or -1. */
static long find_key(const struct parser *ps, const char *name, size_t n)
{
    for (size_t i = 0; i < ps->n_keys; i++) {
        if (ps->keys[i] && eq_nocase(name, n, ps->keys[i]))
            return (long)i;
    }
    return -1;
}

/* ---- Parsing ---- */

static int parse_or(struct parser *ps, uint32_t *out);

/* An operand at the current token; on failure the message is "expected
 * <what>[, found X]". */
static int parse_operand(struct parser *ps, uint32_t *out, const char *what)
{
    struct tok t = ps->tok;
    const char *name = ps->text + t.off;
    size_t n = t.end - t.off;
    char f[SHOW_MAX + 32];
    struct operand *o;
    char sign = 0;

    if (t.kind == T_IDENT && eq_nocase(name, n, "null")) {
        if (new_operand(ps, OPD_NULL, out))
            return -1;
    } else if (t.kind == T_IDENT && (eq_nocase(name, n, "true") || eq_nocase(name, n, "false"))) {
        if (new_operand(ps, OPD_BOOL, out))
            return -1;
        o = &ps->p->ops[*out];
        o->text = lower((unsigned char)name[0]) == 't' ? "true" : "false";
        o->len = strlen(o->text);
    } else if ((t.kind == T_IDENT && !is_keyword(name, n)) || t.kind == T_QIDENT) {
        char shown[SHOW_MAX + 4], keys[256];
        size_t len = n;
        long k;
        if (t.kind == T_QIDENT) {
            name = pool_token(ps, &t, 0, &len);
            ps->p->pool_used -= len + 1; /* only needed for the lookup */
        }
        k = find_key(ps, name, len);
        show(shown, sizeof shown, name, len);
        if (k < 0 && t.kind == T_IDENT) {
            size_t j = t.end;
            while (j < ps->len && is_space((unsigned char)ps->text[j]))
                j++;
            if (j < ps->len && ps->text[j] == '(')
                return fail_at(ps, t.off, "functions are not supported (\"%s\")", shown);
        }
        if (k < 0) {
            key_list(ps, keys, sizeof keys);
            if (ps->n_keys == 0)
                return fail_at(ps, t.off, "unknown column \"%s\" (the table has no partition keys)",
                               shown);
            return fail_at(ps, t.off, "unknown column \"%s\" (partition keys: %s)", shown, keys);
        }
        if (new_operand(ps, OPD_KEY, out))
            return -1;
        o = &ps->p->ops[*out];
        o->key = (uint32_t)k;
        o->key_kind = (uint8_t)key_kind_of(ps->types ? ps->types[k] : NULL);
    } else if (t.kind == T_STR || t.kind == T_NUM) {
        if (new_operand(ps, t.kind == T_STR ? OPD_STR : OPD_NUM, out))
            return -1;
        o = &ps->p->ops[*out];
        o->text = pool_token(ps, &t, 0, &o->len);
    } else if (t.kind == T_SIGN) {
        sign = ps->text[t.off];
        if (lex(ps))
            return -1;
        if (ps->tok.kind != T_NUM)
            return fail_at(ps, ps->tok.off, "expected a number after '%c'%s", sign,
                           found(ps, f, sizeof f));
        if (new_operand(ps, OPD_NUM, out))
            return -1;
        o = &ps->p->ops[*out];
        o->text = pool_token(ps, &ps->tok, sign, &o->len);
    } else {
        return fail_at(ps, t.off, "expected %s%s", what, found(ps, f, sizeof f));
    }
    return lex(ps);
}

/* The mode of a comparison over operands ops[idx[0..n)] and, when n_run > 0,
 * the consecutive operands ops[run .. run + n_run). */
static enum mode mode_of(const struct parser *ps, const uint32_t *idx, size_t n, uint32_t run,
                         uint32_t n_run)
{
    bool numeric = false, boolean = false;

    for (size_t i = 0; i < n + n_run; i++) {
        const struct operand *o = &ps->p->ops[i < n ? idx[i] : run + (uint32_t)(i - n)];
        if (o->kind == OPD_NUM || (o->kind == OPD_KEY && o->key_kind == KEY_NUMERIC))
            numeric = true;
        if (o->kind == OPD_BOOL || (o->kind == OPD_KEY && o->key_kind == KEY_BOOLEAN))
            boolean = true;
    }
    return numeric ? MODE_NUMERIC : boolean ? MODE_BOOLEAN : MODE_STRING;
}

/* Checks a LIKE pattern token: each '\' escapes '%', '_' or '\'. */
static int check_like(struct parser *ps, const struct tok *t)
{
    const char *s = ps->text;
    char q = s[t->off];

    for (size_t i = t->off + 1; i + 1 < t->end; i++) {
        if (s[i] == q) {
            i++; /* doubled quote: a plain character */
        } else if (s[i] == '\\') {
            char e = s[i + 1];
            if (i + 2 >= t->end || (e != '%' && e != '_' && e != '\\'))
                return fail_at(ps, i,
                               "bad escape in LIKE pattern: '\\' must be followed by '%%', '_' "
                               "or '\\'");
            i++;
        }
    }
    return 0;
}

/* Wraps node *io in a NOT when negate. */
static int maybe_not(struct parser *ps, bool negate, uint32_t *io)
{
    uint32_t nd;

    if (!negate)
        return 0;
    if (new_node(ps, N_NOT, &nd))
        return -1;
    ps->p->nodes[nd].a = *io;
    *io = nd;
    return 0;
}

static int enter(struct parser *ps, size_t off)
{
    if (++ps->depth > SL_PRED_MAX_DEPTH)
        return fail_at(ps, off, "nesting deeper than %d levels", SL_PRED_MAX_DEPTH);
    return 0;
}

/* IN '(' operand {',' operand} ')' after the operand lhs (IN is current). */
static int parse_in(struct parser *ps, uint32_t lhs, uint32_t *out)
{
    char f[SHOW_MAX + 32];
    uint32_t first = NONE, item, n = 0;

    if (lex(ps))
        return -1;
    if (ps->tok.kind != T_LPAREN)
        return fail_at(ps, ps->tok.off, "expected '(' after IN%s", found(ps, f, sizeof f));
    if (lex(ps))
        return -1;
    for (;;) {
        if (parse_operand(ps, &item, n ? "a value after ','" : "a value in the IN list"))
            return -1;
        if (first == NONE)
            first = item;
        n++;
        if (ps->tok.kind == T_RPAREN)
            break;
        if (ps->tok.kind != T_COMMA)
            return fail_at(ps, ps->tok.off, "expected ',' or ')' in the IN list%s",
                           found(ps, f, sizeof f));
        if (lex(ps))
            return -1;
    }
    if (lex(ps) || new_node(ps, N_IN, out))
        return -1;
    struct node *nd = &ps->p->nodes[*out];
    nd->a = lhs;
    nd->b = first; /* items are consecutive operands: parse_operand adds one each */
    nd->n = n;
    nd->mode = (uint8_t)mode_of(ps, &lhs, 1, first, n); /* one type for the whole list */
    return 0;
}

/* A comparison, IN, BETWEEN, IS, LIKE or bare operand. */
static int parse_predicate(struct parser *ps, uint32_t *out)
{
    char f[SHOW_MAX + 32];
    struct tok start = ps->tok;
    uint32_t lhs, rhs, hi;
    bool negate = false;

    if (ps->tok.kind == T_LPAREN) {
        size_t open = ps->tok.off;
        if (enter(ps, open) || lex(ps) || parse_or(ps, out))
            return -1;
        if (ps->tok.kind != T_RPAREN)
            return fail_at(ps, ps->tok.off, "expected ')' to close the '(' at col %zu%s",
                           char_col(ps->text, open), found(ps, f, sizeof f));
        ps->depth--;
        return lex(ps);
    }
    if (parse_operand(ps, &lhs, "a condition"))
        return -1;

    if (ps->tok.kind == T_CMP) {
        enum cmp op = ps->tok.op;
        char op_text[8];
        show(op_text, sizeof op_text, ps->text + ps->tok.off, ps->tok.end - ps->tok.off);
        char what[32];
        snprintf(what, sizeof what, "a value after '%s'", op_text);
        if (lex(ps) || parse_operand(ps, &rhs, what) || new_node(ps, N_CMP, out))
            return -1;
        uint32_t pair[2] = { lhs, rhs };
        struct node *nd = &ps->p->nodes[*out];
        nd->op = (uint8_t)op;
        nd->a = lhs;
        nd->b = rhs;
        nd->mode = (uint8_t)mode_of(ps, pair, 2, 0, 0);
        return 0;
    }
    if (is_kw(ps, "is")) {
        if (lex(ps))
            return -1;
        if (is_kw(ps, "not")) {
            negate = true;
            if (lex(ps))
                return -1;
        }
        if (!is_kw(ps, "null"))
            return fail_at(ps, ps->tok.off, "expected NULL or NOT NULL after IS%s",
                           found(ps, f, sizeof f));
        if (lex(ps) || new_node(ps, N_ISNULL, out))
            return -1;
        ps->p->nodes[*out].a = lhs;
        return maybe_not(ps, negate, out);
    }
    if (is_kw(ps, "not")) {
        negate = true;
        if (lex(ps))
            return -1;
        if (!is_kw(ps, "in") && !is_kw(ps, "between") && !is_kw(ps, "like"))
            return fail_at(ps, ps->tok.off, "expected IN, BETWEEN or LIKE after NOT%s",
                           found(ps, f, sizeof f));
    }
    if (is_kw(ps, "in")) {
        if (parse_in(ps, lhs, out))
            return -1;
        return maybe_not(ps, negate, out);
    }
    if (is_kw(ps, "between")) {
        if (lex(ps) || parse_operand(ps, &rhs, "a value after BETWEEN"))
            return -1;
        if (!is_kw(ps, "and"))
            return fail_at(ps, ps->tok.off, "expected AND after BETWEEN's lower bound%s",
                           found(ps, f, sizeof f));
        if (lex(ps) || parse_operand(ps, &hi, "a value after BETWEEN ... AND") ||
            new_node(ps, N_BETWEEN, out))
            return -1;
        uint32_t three[3] = { lhs, rhs, hi };
        struct node *nd = &ps->p->nodes[*out];
        nd->a = lhs;
        nd->b = rhs;
        nd->c = hi;
        nd->mode = (uint8_t)mode_of(ps, three, 3, 0, 0);
        return maybe_not(ps, negate, out);
    }
    if (is_kw(ps, "like")) {
        if (lex(ps))
            return -1;
        if (ps->tok.kind != T_STR)
            return fail_at(ps, ps->tok.off, "expected a quoted pattern after LIKE%s",
                           found(ps, f, sizeof f));
        if (check_like(ps, &ps->tok) || parse_operand(ps, &rhs, "a pattern") ||
            new_node(ps, N_LIKE, out))
            return -1;
        ps->p->nodes[*out].a = lhs;
        ps->p->nodes[*out].b = rhs;
        return maybe_not(ps, negate, out);
    }

    /* a bare operand: only TRUE, FALSE, NULL or a boolean key read as conditions */
    const struct operand *o = &ps->p->ops[lhs];
    if (o->kind == OPD_BOOL || o->kind == OPD_NULL ||
        (o->kind == OPD_KEY && o->key_kind == KEY_BOOLEAN)) {
        if (new_node(ps, N_VALUE, out))
            return -1;
        ps->p->nodes[*out].a = lhs;
        ps->p->nodes[*out].mode = MODE_BOOLEAN;
        return 0;
    }
    char shown[SHOW_MAX + 4];
    show(shown, sizeof shown, ps->text + start.off, ps->prev_end - start.off);
    return fail_at(ps, ps->tok.off, "expected a comparison after %s%s%s%s",
                   start.kind == T_IDENT ? "\"" : "", shown, start.kind == T_IDENT ? "\"" : "",
                   found(ps, f, sizeof f));
}

static int parse_not(struct parser *ps, uint32_t *out)
{
    uint32_t child;

    if (!is_kw(ps, "not"))
        return parse_predicate(ps, out);
    if (enter(ps, ps->tok.off) || lex(ps) || parse_not(ps, &child))
        return -1;
    ps->depth--;
    if (new_node(ps, N_NOT, out))
        return -1;
    ps->p->nodes[*out].a = child;
    return 0;
}

/* A chain of sub(ps) joined by keyword kw, as one n-ary node of kind. */
static int parse_chain(struct parser *ps, const char *kw, enum node_kind kind,
                       int (*sub)(struct parser *, uint32_t *), uint32_t *out)
{
    uint32_t first, last, next, n = 1;

    if (sub(ps, &first))
        return -1;
    if (!is_kw(ps, kw)) {
        *out = first;
        return 0;
    }
    last = first;
    while (is_kw(ps, kw)) {
        if (lex(ps) || sub(ps, &next))
            return -1;
        ps->p->nodes[last].next = next;
        last = next;
        n++;
    }
    if (new_node(ps, kind, out))
        return -1;
    ps->p->nodes[*out].a = first;
    ps->p->nodes[*out].n = n;
    return 0;
}

static int parse_and(struct parser *ps, uint32_t *out)
{
    return parse_chain(ps, "and", N_AND, parse_not, out);
}

static int parse_or(struct parser *ps, uint32_t *out)
{
    return parse_chain(ps, "or", N_OR, parse_and, out);
}

int sl_pred_parse(const char *text, const char *const *keys, const char *const *types,
                  size_t n_keys, struct sl_pred **out, struct sl_err *err)
{
    struct parser ps;
    char f[SHOW_MAX + 32];
    size_t len = text ? strnlen(text, SL_PRED_MAX_TEXT + 1) : 0;
    struct sl_pred *p;

    *out = NULL;
    if (len > SL_PRED_MAX_TEXT)
        return sl_err_set(err, SL_EPARSE, "push_down_predicate: longer than %d bytes",
                          SL_PRED_MAX_TEXT);
    p = sl_calloc(1, sizeof *p);
    if (!p)
        return sl_err_set(err, SL_ENOMEM, "push_down_predicate: out of memory");
    p->root = NONE;
    memset(&ps, 0, sizeof ps);
    ps.text = text ? text : "";
    ps.len = len;
    ps.keys = keys;
    ps.types = types;
    ps.n_keys = keys ? n_keys : 0;
    ps.p = p;
    ps.err = err;
    if (lex(&ps))
        goto fail;
    if (ps.tok.kind == T_END) {
        *out = p; /* nothing but spaces: always true */
        return SL_OK;
    }
    /* every token copied holds at most its own bytes, plus a sign and a NUL */
    p->pool_cap = 2 * len + 2;
    p->pool = sl_alloc(p->pool_cap);
    if (!p->pool) {
        fail_oom(&ps);
        goto fail;
    }
    if (parse_or(&ps, &p->root))
        goto fail;
    if (ps.tok.kind != T_END) {
        fail_at(&ps, ps.tok.off, "expected AND, OR or the end of the predicate%s",
                found(&ps, f, sizeof f));
        goto fail;
    }
    if (SL_NEVER(p->pool_used > p->pool_cap)) {
        sl_err_set(err, SL_EINTERNAL, "push_down_predicate: literal pool overflow");
        goto fail;
    }
    *out = p;
    return SL_OK;
fail:
    sl_pred_free(p);
    return err->code;
}
