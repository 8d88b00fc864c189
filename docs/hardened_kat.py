#!/usr/bin/python3
# Second implementation of docs/HARDENED.md (hashlib/hmac only) producing the known-answer
# values checked by tests/crypto/hardened.cpp. Run: /usr/bin/python3 docs/hardened_kat.py
import hashlib, hmac, struct

def h512_32(*parts):
    return hashlib.sha512(b"".join(parts)).digest()[:32]

def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()

def hkdf_expand(prk, info, length):
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]

def hardened(topic_name, secret, minute):
    topic_hash = h512_32(topic_name)
    ish = h512_32(secret)
    minute_secret = h512_32(topic_hash, struct.pack(">Q", minute), ish)  # PROTOCOL.md 1.6
    prk = hkdf_extract(b"dtt-hardened-v1", topic_hash + minute_secret)
    le = struct.pack("<Q", minute)
    dht_seed = hkdf_expand(prk, b"dtt-hardened-v1 dht-seed" + le, 32)
    salt = hkdf_expand(prk, b"dtt-hardened-v1 salt" + le, 32)
    return topic_hash, minute_secret, prk, dht_seed, salt

for name, secret, minute in [(b"my-iroh-gossip-topic", b"my-initial-secret", 29000000),
                             (b"my-iroh-gossip-topic", b"another-secret", 29000000),
                             (b"my-iroh-gossip-topic", b"my-initial-secret", 29000001)]:
    th, ms, prk, seed, salt = hardened(name, secret, minute)
    print(f"{name.decode()} / {secret.decode()} / {minute}")
    print("  minute_secret", ms.hex())
    print("  prk          ", prk.hex())
    print("  dht_seed     ", seed.hex())
    print("  salt         ", salt.hex())
    try:
        from nacl.signing import SigningKey  # optional: the public key (BEP 44 k)
        print("  dht_pubkey   ", SigningKey(seed).verify_key.encode().hex())
    except ImportError:
        pass
# RFC 5869 A.1 (checks hkdf_extract/hkdf_expand above)
prk = hkdf_extract(bytes.fromhex("000102030405060708090a0b0c"), bytes.fromhex("0b" * 22))
assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
okm = hkdf_expand(prk, bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                     "34007208d5b887185865")
print("RFC 5869 A.1 ok")
