/* test_precond.c — entity-tags and the RFC 9110 §13 evaluation (src/common/precond.c). */
#include "common/httpdate.h"
#include "common/precond.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)
#define NOW 1796300000LL

/* A precondition from up to two header lines of each kind (NULL = not sent). */
static struct kvs_precond pc(const char *if_match, const char *if_none_match, const char *ims,
                             const char *ius)
{
    struct kvs_precond p = {0};
    if (if_match)
        kvs_precond_add(&p, KVS_H_IF_MATCH, S(if_match), NOW);
    if (if_none_match)
        kvs_precond_add(&p, KVS_H_IF_NONE_MATCH, S(if_none_match), NOW);
    if (ims)
        kvs_precond_add(&p, KVS_H_IF_MODIFIED_SINCE, S(ims), NOW);
    if (ius)
        kvs_precond_add(&p, KVS_H_IF_UNMODIFIED_SINCE, S(ius), NOW);
    return p;
}

/* The record: version 0x1f, last written at 1994-11-06 08:49:37.500 */
static const struct kvs_precond_target REC = {1, 0x1f, 784111777500LL};
static const struct kvs_precond_target ABSENT = {0, 0, 0};
#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER "Sun, 06 Nov 1994 08:49:38 GMT"

static int eval(struct kvs_precond p, const struct kvs_precond_target *t, int read)
{
    return (int)kvs_precond_eval(&p, t, read, 0);
}

TEST(etag_format)
{
    char tag[KVS_ETAG_MAX];
    kvs_etag_format(0x1f, 0, tag);
    ASSERT_STR_EQ(tag, "\"1f\"");
    kvs_etag_format(0x1f, 1, tag);
    ASSERT_STR_EQ(tag, "\"1f-identity\"");
    kvs_etag_format(UINT64_MAX, 1, tag);
    ASSERT_STR_EQ(tag, "\"ffffffffffffffff-identity\"");
    ASSERT(strlen(tag) < KVS_ETAG_MAX);
    kvs_etag_format(0, 0, tag);
    ASSERT_STR_EQ(tag, "\"0\"");
}

TEST(etag_list_parse)
{
    struct kvs_precond p =
        pc("\"1f\", W/\"2a-identity\" ,,\"zz\", \"01f\", \"1F\", \"\"", NULL, NULL, NULL);
    ASSERT_EQ(p.if_match.present, 1);
    ASSERT_EQ(p.if_match.any, 0);
    ASSERT_EQ(p.if_match.n, 2); /* foreign and non-canonical tags are dropped */
    ASSERT_EQ(p.if_match.tags[0].version, 0x1f);
    ASSERT_EQ(p.if_match.tags[0].weak, 0);
    ASSERT_EQ(p.if_match.tags[1].version, 0x2a);
    ASSERT_EQ(p.if_match.tags[1].weak, 1);
    ASSERT_EQ(p.if_match.tags[1].decoded, 1);

    p = pc(" * ", NULL, NULL, NULL);
    ASSERT_EQ(p.if_match.any, 1);
    /* a malformed list keeps what came before the fault */
    p = pc("\"1f\", 2a, \"3b\"", NULL, NULL, NULL);
    ASSERT_EQ(p.if_match.n, 1);
    p = pc("\"1f\" junk", NULL, NULL, NULL);
    ASSERT_EQ(p.if_match.n, 1);
    p = pc("\"unterminated", NULL, NULL, NULL);
    ASSERT_EQ(p.if_match.present, 1);
    ASSERT_EQ(p.if_match.n, 0);
    /* a tag with a space or a quote inside is not an entity-tag */
    p = pc("\"1 f\", \"1f\"", NULL, NULL, NULL);
    ASSERT_EQ(p.if_match.n, 0);
}

TEST(etag_list_several_lines_and_too_many)
{
    struct kvs_precond p = {0};
    kvs_precond_add(&p, KVS_H_IF_NONE_MATCH, S("\"1\""), NOW);
    kvs_precond_add(&p, KVS_H_IF_NONE_MATCH, S("\"2\", \"3\""), NOW);
    ASSERT_EQ(p.if_none_match.n, 3);
    ASSERT_EQ(p.if_none_match.too_many, 0);
    for (int i = 0; i < KVS_ETAG_LIST_MAX; i++)
        kvs_precond_add(&p, KVS_H_IF_NONE_MATCH, S("\"4\""), NOW);
    ASSERT_EQ(p.if_none_match.n, KVS_ETAG_LIST_MAX);
    ASSERT_EQ(p.if_none_match.too_many, 1);
}

/* If-None-Match against a tag that is not a record version (the console's files) */
TEST(etag_list_matches_other_tags)
{
    kvs_slice e = kvs_slice_of("abc");
#define M(v) kvs_etag_list_matches(kvs_slice_of(v), e)
    ASSERT(M("\"abc\""));
    ASSERT(M("W/\"abc\""));
    ASSERT(M("\"x\", \"abc\""));
    ASSERT(M(" , \"x\" ,W/\"abc\" , "));
    ASSERT(M("*"));
    ASSERT(M(" * "));
    ASSERT(M("\"abc\" junk")); /* a tag before a fault counts */
    ASSERT(!M(""));
    ASSERT(!M("\"abcd\""));
    ASSERT(!M("\"ab\""));
    ASSERT(!M("abc"));
    ASSERT(!M("\"abc"));
    ASSERT(!M("w/\"abc\"")); /* W is case-sensitive */
    ASSERT(!M("*, \"abc\""));
    ASSERT(!M("\"x\" \"abc\"")); /* not a list: nothing after the fault counts */
#undef M
}

TEST(precond_none)
{
    struct kvs_precond p = pc(NULL, NULL, NULL, NULL);
    ASSERT_EQ(kvs_precond_any(&p), 0);
    ASSERT_EQ(eval(p, &REC, 1), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(p, &ABSENT, 0), KVS_PRECOND_PASS);
    p = pc(NULL, NULL, "not a date", NULL);
    ASSERT_EQ(kvs_precond_any(&p), 0);
}

TEST(precond_if_match)
{
    ASSERT_EQ(eval(pc("\"1f\"", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc("\"1e\", \"1f\"", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc("\"1f-identity\"", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc("\"1e\"", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc("W/\"1f\"", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_FAILED); /* strong */
    ASSERT_EQ(eval(pc("\"foreign\"", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc("*", NULL, NULL, NULL), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc("*", NULL, NULL, NULL), &ABSENT, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc("\"1f\"", NULL, NULL, NULL), &ABSENT, 0), KVS_PRECOND_FAILED);
    /* on a read it is 412 too */
    ASSERT_EQ(eval(pc("\"1e\"", NULL, NULL, NULL), &REC, 1), KVS_PRECOND_FAILED);
}

TEST(precond_if_none_match)
{
    /* writes: a match is 412; "*" means "only if absent" */
    ASSERT_EQ(eval(pc(NULL, "*", NULL, NULL), &ABSENT, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, "*", NULL, NULL), &REC, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc(NULL, "\"1f\"", NULL, NULL), &REC, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc(NULL, "W/\"1f-identity\"", NULL, NULL), &REC, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc(NULL, "\"1e\"", NULL, NULL), &REC, 0), KVS_PRECOND_PASS);
    /* reads: a match is 304, compared weakly, for the representation sent */
    ASSERT_EQ(eval(pc(NULL, "W/\"1f\"", NULL, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc(NULL, "\"1e\", \"1f\"", NULL, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc(NULL, "\"1f-identity\"", NULL, NULL), &REC, 1), KVS_PRECOND_PASS);
    struct kvs_precond p = pc(NULL, "\"1f-identity\"", NULL, NULL);
    ASSERT_EQ(kvs_precond_eval(&p, &REC, 1, 1), KVS_PRECOND_NOT_MODIFIED);
    p = pc(NULL, "\"1f\"", NULL, NULL);
    ASSERT_EQ(kvs_precond_eval(&p, &REC, 1, 1), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, "*", NULL, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc(NULL, "*", NULL, NULL), &ABSENT, 1), KVS_PRECOND_PASS);
}

TEST(precond_dates)
{
    /* If-Modified-Since: in whole seconds, on reads only */
    ASSERT_EQ(eval(pc(NULL, NULL, DATE, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc(NULL, NULL, AFTER, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc(NULL, NULL, BEFORE, NULL), &REC, 1), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, NULL, DATE, NULL), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", NULL), &REC, 1),
              KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc(NULL, NULL, "garbage", NULL), &REC, 1), KVS_PRECOND_PASS);
    /* If-Unmodified-Since */
    ASSERT_EQ(eval(pc(NULL, NULL, NULL, DATE), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, NULL, NULL, AFTER), &REC, 0), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, NULL, NULL, BEFORE), &REC, 0), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc(NULL, NULL, NULL, BEFORE), &REC, 1), KVS_PRECOND_FAILED);
    ASSERT_EQ(eval(pc(NULL, NULL, NULL, BEFORE), &ABSENT, 0), KVS_PRECOND_PASS);
    /* a date header sent twice is ignored */
    struct kvs_precond p = pc(NULL, NULL, NULL, BEFORE);
    kvs_precond_add(&p, KVS_H_IF_UNMODIFIED_SINCE, S(BEFORE), NOW);
    ASSERT_EQ(kvs_precond_eval(&p, &REC, 0, 0), KVS_PRECOND_PASS);
}

TEST(precond_precedence)
{
    /* If-Match wins over If-Unmodified-Since (which would fail) */
    ASSERT_EQ(eval(pc("\"1f\"", NULL, NULL, BEFORE), &REC, 0), KVS_PRECOND_PASS);
    /* ... and a failing If-Match is 412 whatever else */
    ASSERT_EQ(eval(pc("\"1e\"", "\"1f\"", DATE, AFTER), &REC, 1), KVS_PRECOND_FAILED);
    /* If-None-Match wins over If-Modified-Since, both ways */
    ASSERT_EQ(eval(pc(NULL, "\"1e\"", DATE, NULL), &REC, 1), KVS_PRECOND_PASS);
    ASSERT_EQ(eval(pc(NULL, "\"1f\"", BEFORE, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    /* If-Match passes, If-None-Match then decides */
    ASSERT_EQ(eval(pc("\"1f\"", "\"1f\"", NULL, NULL), &REC, 1), KVS_PRECOND_NOT_MODIFIED);
    ASSERT_EQ(eval(pc("*", "*", NULL, NULL), &REC, 0), KVS_PRECOND_FAILED);
}

TEST(if_range)
{
    ASSERT_EQ(kvs_if_range_matches(S("\"1f\""), 0x1f, 0), 1);
    ASSERT_EQ(kvs_if_range_matches(S(" \"1f\" "), 0x1f, 0), 1);
    ASSERT_EQ(kvs_if_range_matches(S("\"1f\""), 0x1e, 0), 0);
    ASSERT_EQ(kvs_if_range_matches(S("W/\"1f\""), 0x1f, 0), 0);
    ASSERT_EQ(kvs_if_range_matches(S("\"1f\""), 0x1f, 1), 0);
    ASSERT_EQ(kvs_if_range_matches(S("\"1f-identity\""), 0x1f, 1), 1);
    ASSERT_EQ(kvs_if_range_matches(S("\"1f\", \"1f\""), 0x1f, 0), 0);
    ASSERT_EQ(kvs_if_range_matches(S(DATE), 0x1f, 0), 0);
    ASSERT_EQ(kvs_if_range_matches(S(""), 0x1f, 0), 0);
}
