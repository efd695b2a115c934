"""Reading PostgreSQL's plans (EXPLAIN (FORMAT JSON)) in tests: which tables a statement
reads, and how."""

from collections.abc import Iterator

# A bitmap heap scan reads the rows its bitmap index scan found.
INDEX_READS = frozenset({"Index Scan", "Index Only Scan", "Bitmap Heap Scan"})


def plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


def explain(cursor, sql: str, params: dict) -> list[dict]:
    cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
    (document,) = cursor.fetchone()
    return list(plan_nodes(document[0]["Plan"]))


def scans(nodes: list[dict]) -> set[tuple[str, str]]:
    """(node type, table) of every node that reads a table."""
    return {(node["Node Type"], node["Relation Name"]) for node in nodes if "Relation Name" in node}


def unkeyed_index_reads(nodes: list[dict], tables) -> set[tuple[str, str]]:
    """(table, index) of the index reads with no index condition: the whole index read and
    filtered, which grows with the table however few rows the statement wants."""
    return {
        (node.get("Relation Name", "?"), node["Index Name"])
        for node in nodes
        if node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
        and node.get("Relation Name", tables[0]) in tables
        and "Index Cond" not in node
    }
