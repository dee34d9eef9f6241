"""The file-system side of GET: where cataloged files go back on disk, and putting them there."""
