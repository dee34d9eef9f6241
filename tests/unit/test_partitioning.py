"""The partition a key lands in matches Kafka's own murmur2 partitioner."""

from nearline.partitioning import murmur2, partition_for


def signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def test_murmur2_matches_kafkas_reference_values():
    # The values Kafka's own tests expect of Utils.murmur2.
    expected = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for key, value in expected.items():
        assert signed(murmur2(key)) == value, key


def test_partition_for_is_positive_modulo():
    assert partition_for(b"21", 6) == (-973932308 & 0x7FFFFFFF) % 6
    assert all(0 <= partition_for(bytes([i]), 7) < 7 for i in range(256))
