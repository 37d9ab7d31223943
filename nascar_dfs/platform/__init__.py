"""What the Dagster definitions share: file storage, codecs and the IO manager, partitions, tags,
versions, the spec store, materialization reads, the lineup plan, resources, and the read and
launch surfaces the API uses. Imports `core`, never `defs` (a test holds it)."""
