import animica_native as an

# Hashing
digest = an.hash.blake3(b"hello world")         # 32-byte digest
print(digest.hex())

# NMT: compute a root from (namespace, leaf) pairs
namespaces = [b"\x00\x00\x00\x00\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00\x00\x02"]
leaves     = [b"alpha",                           b"beta"]
root = an.nmt.root(leaves=leaves, namespaces=namespaces)
print(root.hex())

# RS: encode 4 data shards with 2 parity, drop one, and reconstruct
data = [b"A"*1024, b"B"*1024, b"C"*1024, b"D"*1024]
parity = an.rs.encode(data_shards=data, parity_shards=2)  # returns [p0, p1]

# Simulate losses: lose shard 1 and parity 0
shards = [data[0], None, data[2], data[3], None, parity[1]]
recovered = an.rs.reconstruct(shards)  # returns fully reconstructed [d0,d1,d2,d3,p0,p1]
assert recovered[1] == b"B"*1024
