# tests/integration/private_catalog.sh - sourced by shell tests whose
# `sluice serve` executes runs: gives the test a catalog database of its own,
# so a server of another test (or of a benchmark) on the shared catalog cannot
# claim the runs this test queues, nor this test's servers theirs.
#
#   private_catalog NAME   creates database NAME on the server of
#                          $SLUICE_CATALOG and points SLUICE_CATALOG at it
#                          (exported; the shared one stays in SHARED_CATALOG).
#                          Returns 1 when the database cannot be created.
#   drop_private_catalog   drops it again (call from the test's cleanup).
private_catalog() {
    PRIVATE_DB=$1
    SHARED_CATALOG=$SLUICE_CATALOG
    psql "$SHARED_CATALOG" -qc "CREATE DATABASE \"$PRIVATE_DB\"" >/dev/null 2>&1 || return 1
    case $SHARED_CATALOG in
    postgres://* | postgresql://*)
        SLUICE_CATALOG=$(echo "$SHARED_CATALOG" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/$PRIVATE_DB#") ;;
    *dbname=*)
        SLUICE_CATALOG=$(echo "$SHARED_CATALOG" | sed -E "s/dbname=('[^']*'|[^ ]*)/dbname=$PRIVATE_DB/") ;;
    *)
        SLUICE_CATALOG="$SHARED_CATALOG dbname=$PRIVATE_DB" ;;
    esac
    export SLUICE_CATALOG SHARED_CATALOG
}
drop_private_catalog() {
    [ -n "${PRIVATE_DB:-}" ] &&
        psql "$SHARED_CATALOG" -qc "DROP DATABASE IF EXISTS \"$PRIVATE_DB\" WITH (FORCE)" >/dev/null 2>&1
    return 0
}
