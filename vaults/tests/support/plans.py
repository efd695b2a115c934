"""Reading PostgreSQL's plans (EXPLAIN (FORMAT JSON)) in tests: which tables a statement
reads, and how; and the shadow schema those tests fill with a large customer base (the same
tables, constraints and indexes, first on the search_path until the test's transaction ends,
so the rollback removes them)."""

from collections.abc import Iterator

# The tables a release or a reversal chunk reads and writes.
TABLES = ("ledger_accounts", "operations", "wallet_locks", "vault_vesting_lots", "ledger_entries")
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


def create_shadow_tables(cursor, schema: str) -> None:
    """TABLES in `schema`, unlogged, with public's columns and constraints but no index yet
    (filled first, indexed after: much faster), first on the search_path."""
    cursor.execute(f"CREATE SCHEMA {schema}")
    for table in TABLES:
        cursor.execute(f"CREATE UNLOGGED TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)")
    cursor.execute(f"SET LOCAL search_path = {schema}, public")


def index_and_analyze(cursor, schema: str) -> None:
    """public's indexes of TABLES built on `schema`'s filled copies, then their statistics taken."""
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)", [list(TABLES)]
    )
    for (definition,) in cursor.fetchall():
        cursor.execute(definition.replace(" ON public.", f" ON {schema}."))
    for table in TABLES:
        cursor.execute(f"ANALYZE {schema}.{table}")
