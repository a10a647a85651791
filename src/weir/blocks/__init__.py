"""Block kinds: the decorators, Python blocks, SQL blocks (`weir.blocks.sql`).

Every executor has the signature `execute(BlockRequest) -> BlockResult` (see `weir.blocks.base`).
"""
