AND o.operation_metadata->>'as_of' = %(scope_as_of)s
