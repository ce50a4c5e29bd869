// Spill layouts side by side: the candidate ways of keeping the spill tier's blocks in
// RocksDB, each driven as the spill tier drives its layout (1 MiB write batches of blocks,
// a 32-byte record beside each, our XXH3-64 over every value written and read), measured
// for write rate, CPU per GiB, write amplification, read rate and latency, reopen time
// and RocksDB's table-reader memory. Part of storage_bench; not thread-safe. These are the
// candidates as compared when spill format 2 was chosen: every read here is a RocksDB Get
// per chunk. The tier itself (format 3) reads a value with one preadv from the segment file
// (spill_db.h); its figures are storage_bench's spill-tier table, not this one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace prefixcache::bench {

// The candidates, in the order they are printed.
enum class SpillLayout {
  kBlobToday,         // integrated BlobDB with the options of the previous spill tier
  kBlobTuned,         // the same, larger memtables and blob files
  kSstMemtableFifo,   // values in SST data blocks through the memtable, FIFO compaction
  kSstIngest,         // values in SST files written directly and ingested (the chosen one)
  kSstIngestNoCheck,  // the same without RocksDB's block checksum (ours only)
  kSstIngestDirect,   // ingested, the files written with O_DIRECT (no page-cache copy)
};

struct SpillLayoutFigures {
  double write_gbps = 0;     // written, flushed and synced (syncfs), per wall second
  double cpu_s_per_gib = 0;  // process CPU (user + system) per GiB written
  double write_amp = 0;      // bytes the process sent to the disk per value byte
  double read_gbps = 0;      // value reads, our XXH3 verified, RocksDB's checksum off
  double read_p50_us = 0;
  double read_p99_us = 0;
  double read_checked_gbps = 0;             // the same with ReadOptions::verify_checksums on
  double reopen_s = 0;                      // DB::Open plus a scan of every record
  double table_reader_bytes_per_block = 0;  // rocksdb.estimate-table-readers-mem / blocks
  std::uint64_t bad = 0;                    // reads that failed or returned other bytes
};

// Every candidate, for the table.
std::vector<SpillLayout> AllSpillLayouts();
const char* SpillLayoutName(SpillLayout layout);
// The candidate's short name on the command line ("blob", "blob-tuned", "sst-fifo",
// "sst-ingest", "sst-ingest-nocheck", "sst-ingest-direct").
const char* SpillLayoutId(SpillLayout layout);

// Writes `total_bytes` of `block_bytes` blocks in the layout into a fresh folder under
// `dir`, reads them back, reopens the folder, and removes it. Exits the process with a
// message on a RocksDB error.
SpillLayoutFigures RunSpillLayout(SpillLayout layout, std::size_t block_bytes,
                                  std::uint64_t total_bytes, const std::string& dir);

}  // namespace prefixcache::bench
