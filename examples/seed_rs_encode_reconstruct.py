import animica_native as an

k, m, size = 6, 3, 4096
data = [bytes([i])*size for i in range(k)]
parity = an.rs.encode(data, parity_shards=m)   # returns m parity shards

# Lose two data shards and one parity
shards = [data[0], None, data[2], None, data[4], data[5], parity[0], None, parity[2]]
recovered = an.rs.reconstruct(shards)
