# A report over an array of user records, as jq is used on API dumps: filter,
# reshape, group, aggregate and sort.
[ .[]
  | select(.active and .score > 20)
  | { id, name: (.name | ascii_upcase), tags: (.tags | unique),
      visits: ([.history[]?.visits] | add // 0),
      pages: ([.history[]?.pages[]?] | length) } ]
| group_by(.tags[0] // "none")
| map({ tag: (.[0].tags[0] // "none"), users: length,
        visits: (map(.visits) | add), pages: (map(.pages) | add),
        top: (sort_by(-.visits, .id) | .[:5] | map(.name)) })
| sort_by(-.users, .tag)
