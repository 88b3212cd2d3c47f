import animica_native as an

def to_ns(i: int) -> bytes:
    return i.to_bytes(8, "big")

chunks = [b"shard-000", b"shard-001", b"shard-002", b"shard-003"]
names  = [to_ns(i) for i in range(len(chunks))]

root = an.nmt.root(chunks, names)
print("nmt_root:", root.hex())
