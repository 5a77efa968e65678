#!/bin/sh
# sqlite3 inserting, indexing and querying 300 000 rows in a database file
# under tcarena; every query's output must match a plain run.
. "$(dirname "$0")/common.sh"
need sqlite3
cat >"$scratch/work.sql" <<'SQL'
PRAGMA cache_size = -65536;
PRAGMA synchronous = OFF;
PRAGMA journal_mode = MEMORY;
CREATE TABLE items(id INTEGER PRIMARY KEY, category INTEGER, name TEXT, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
INSERT INTO items SELECT i, i % 97, printf('item-%08d-%s', i, hex(i * 2654435761 % 4294967296)),
    zeroblob(i % 400) FROM n;
CREATE INDEX items_by_category ON items(category, name);
CREATE INDEX items_by_name ON items(name);
SELECT category, count(*), sum(length(payload)), min(name), max(name) FROM items GROUP BY category ORDER BY category;
SELECT name FROM items WHERE name LIKE 'item-0012%' ORDER BY name DESC LIMIT 20;
SELECT a.category, count(*) FROM items a JOIN items b ON a.id = b.id + 1 AND a.category = b.category + 1
    GROUP BY a.category ORDER BY 2 DESC, 1 LIMIT 10;
UPDATE items SET payload = zeroblob(1000) WHERE id % 10 = 0;
DELETE FROM items WHERE id % 3 = 0;
SELECT count(*), sum(length(payload)), group_concat(substr(name, 6, 8), ',') FILTER (WHERE id < 100) FROM items;
SELECT name FROM items ORDER BY category DESC, name LIMIT 5 OFFSET 100000;
SQL
run()
{
    rm -f "$scratch/db"
    "$@" sqlite3 "$scratch/db" <"$scratch/work.sql"
}
run env >"$scratch/plain"
run under_tcarena >"$scratch/tcarena"
same_output sqlite3 "$scratch/plain" "$scratch/tcarena"
