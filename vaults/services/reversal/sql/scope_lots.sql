AND o.id = ANY(%(scope_release_ids)s::uuid[])
