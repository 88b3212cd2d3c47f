import mmap, os, animica_native as an

with open("dataset.bin", "rb") as f:
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        d_blake3 = an.hash.blake3(memoryview(mm))
        d_sha256 = an.hash.sha256(memoryview(mm))
        print(d_blake3.hex(), d_sha256.hex())
    finally:
        mm.close()
