import animica_native as an, platform
print("Platform:", platform.platform())
print("Hasher sample:", an.hash.blake3(b"").hex())
