create tabel oops;
