#!/usr/bin/env bash
# tests/integration/test_crawl_new_folders.sh - CRAWL_NEW_FOLDERS_ONLY on the
# S3 emulator (spec/crawler.md §12.3, T41 and T42): excluded folders are never
# listed, files of known folders are not looked at, new folders become
# partitions, and a changed exclusion list refuses the incremental mode.
set -u
SLUICE=${SLUICE_BIN:?SLUICE_BIN not set}
n_fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; n_fail=$((n_fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ -z "${AWS_ENDPOINT_URL:-}" ] || [ -z "${SLUICE_CATALOG:-}" ]; then
    echo "skip - crawl_new_folders: needs the S3 emulator and PostgreSQL"
    exit 0
fi
work=$(mktemp -d /tmp/sluice-newfolders-XXXXXX)
B=s3://${SLUICE_TEST_BUCKET:-sluice-test}/nf-$$/myfolder
DB=nf_$$
trap 'rm -rf "$work"; /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --recursive --only-show-errors "${B%/myfolder}/" >/dev/null 2>&1; psql "$SLUICE_CATALOG" -qc "DELETE FROM sluice.catalog_database WHERE name = '"'$DB'"'" >/dev/null 2>&1' EXIT
jget() { node -e "const d=JSON.parse(require('fs').readFileSync('$1','utf8'));console.log($2)"; }
put() { printf '%s' "$2" >"$work/obj" && "$SLUICE" cp -q "$work/obj" "$B/$1"; }

put dt=1/a.json '{"id": 1, "v": "x"}
{"id": 2, "v": "y"}
'
put dt=2/a.json '{"id": 3, "v": "z"}
{"id": 4, "v": "w"}
'
put departments/x.json '{"dept": "a"}
{"dept": "b"}
'
put dt=1/junk.tmp 'not data'
EX=(--exclude 'departments/**' --exclude '**.tmp')

"$SLUICE" crawl "$B/" --database "$DB" "${EX[@]}" --json >"$work/full.json" 2>"$work/full.err"
check full_crawl_ok test "$(jget "$work/full.json" 'd.status')" = succeeded
check full_crawl_two_partitions test "$(jget "$work/full.json" 'd.tables.map(t=>t.name+":"+t.partitions).join(",")')" = "myfolder:2"

put dt=3/a.json '{"id": 5, "v": "q"}
{"id": 6, "v": "r"}
'
put dt=1/b.json '{"id": 7, "v": "s"}
{"id": 8, "v": "t"}
'
put departments/new/y.json '{"dept": "c"}
{"dept": "d"}
'
put dt=3/z.tmp 'temp'

"$SLUICE" crawl "$B/" --database "$DB" "${EX[@]}" --recrawl CRAWL_NEW_FOLDERS_ONLY --json \
    >"$work/nf.json" 2>"$work/nf.err"
echo "# counters: $(jget "$work/nf.json" "JSON.stringify(d.counters)")"
check nf_ok test "$(jget "$work/nf.json" 'd.status')" = succeeded
# the root is listed with a delimiter (1 LIST), dt=3/ recursively (1 LIST);
# dt=1/ and dt=2/ have files of their own and departments/ is excluded: not listed
check t41_two_lists_only test "$(jget "$work/nf.json" 'd.counters.list_requests')" = 2
check t41_tmp_excluded test "$(jget "$work/nf.json" 'd.skipped.some(s=>s.key==="dt=3/z.tmp"&&s.status==="excluded")')" = true
check t42_new_partition test "$(jget "$work/nf.json" 'd.counters.partitions_added')" = 1
check t42_new_object_sampled test "$(jget "$work/nf.json" 'd.counters.objects_new')" = 1
# the manifest's 4 objects + dt=3/a.json + dt=3/z.tmp; dt=1/b.json is not seen
check t42_known_folder_file_not_seen test "$(jget "$work/nf.json" 'd.counters.objects_listed')" = 6
check t42_one_get test "$(jget "$work/nf.json" 'd.counters.get_requests')" = 1
"$SLUICE" catalog partitions "$DB.myfolder" --json >"$work/p.json"
check t42_partitions_listed test "$(jget "$work/p.json" 'd.Partitions.map(p=>p.Values[0]).join(",")')" = "1,2,3"

"$SLUICE" crawl "$B/" --database "$DB" --exclude '**.tmp' --recrawl CRAWL_NEW_FOLDERS_ONLY \
    >/dev/null 2>"$work/changed.err"
check changed_exclusions_refused test $? = 2
check changed_exclusions_message grep -q RECRAWL_CONFIG_CHANGED "$work/changed.err"

# a full crawl afterwards sees dt=1/b.json
"$SLUICE" crawl "$B/" --database "$DB" "${EX[@]}" --json >"$work/full2.json" 2>&1
check full_recrawl_sees_new_file test "$(jget "$work/full2.json" 'd.counters.objects_new')" = 1
exit $((n_fail > 0))
