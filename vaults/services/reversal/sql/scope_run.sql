AND o.operation_metadata->>'as_of' = %(scope_as_of)s AND o.operation_metadata->>'trace_id' = %(scope_trace_id)s
