#include "snapshot_catalog.hpp"

namespace pgmt::detail {

// Schemas that are not the user's: the system's and pgmt's own.
const char* const user_schema =
    "n.nspname not in ('pg_catalog', 'information_schema', 'pgmt') and n.nspname not like 'pg\\_toast%' "
    "and n.nspname not like 'pg\\_temp\\_%'";

// Not a member of an extension (the extension itself is listed instead).
std::string not_extension_member(const std::string& catalog, const std::string& oid) {
  return "not exists (select 1 from pg_depend dep where dep.classid = '" + catalog +
         "'::regclass and dep.objid = " + oid + " and dep.deptype = 'e')";
}

namespace {

// A role's name as a snapshot writes it. The role pgmt logs in as runs the
// migrations, so it owns, grants and is granted what they create; on pgmt's
// own servers it is "postgres". On an external server it has the URL's name,
// and is written "postgres" all the same: a snapshot says the same whatever
// server it was read on. (Its OID is an InitPlan: looked up once a query.)
std::string role_name(const std::string& oid) {
  return "case " + oid +
         " when (select r.oid from pg_catalog.pg_roles r where r.rolname = session_user) then "
         "'postgres'::name else pg_get_userbyid(" +
         oid + ") end";
}

// A grantee: a role, or PUBLIC (0).
std::string grantee_name(const std::string& oid) {
  return "case when " + oid + " = 0 then 'PUBLIC' else " + role_name(oid) + " end";
}

// An ACL as a sorted JSON array; NULL (the built-in default) is spelled out
// with acldefault so that "granted then revoked" equals "never granted".
std::string acl(const std::string& expr, const std::string& default_kind = "",
                const std::string& owner = "") {
  std::string value = default_kind.empty()
                          ? expr
                          : "coalesce(" + expr + ", acldefault('" + default_kind + "', " + owner + "))";
  const std::string grantee = grantee_name("a.grantee"), grantor = role_name("a.grantor");
  return "(select coalesce(jsonb_agg(jsonb_build_object('grantee', " + grantee +
         ", 'privilege', a.privilege_type, 'grantable', a.is_grantable, 'grantor', " + grantor +
         ") order by " + grantee + ", a.privilege_type, " + grantor + "), '[]'::jsonb) from aclexplode(" +
         value + ") a)";
}

// A regproc column as a function's name, null for none (0).
std::string proc_name(const std::string& column) { return "nullif(" + column + "::regproc::text, '-')"; }

// A function OID column as the function's signature, null for none (0).
std::string proc_signature(const std::string& column) {
  return "case when " + column + " <> 0 then " + column + "::regprocedure::text end";
}

// An operator family's name by its OID, qualified (its access method is the
// one of whatever names it).
std::string opfamily_name(const std::string& oid) {
  return "(select fn.nspname || '.' || fam.opfname from pg_opfamily fam join pg_namespace fn on fn.oid = "
         "fam.opfnamespace where fam.oid = " +
         oid + ")";
}

// Whether row m of pg_amop or pg_amproc (catalog) belongs to an operator
// class (to opclass, when given): it has a dependency on one. CREATE
// OPERATOR CLASS binds a member to its class (an internal, 'i', dependency)
// unless the access method makes it loose (amadjustmembers): btree's and
// hash's cross-type operators and functions, GiST's, GIN's and SP-GiST's
// operators and optional functions get an auto ('a') dependency on the
// family instead. DROP OPERATOR CLASS leaves those in the family, like what
// ALTER OPERATOR FAMILY ... ADD added. So the dependency's target, class or
// family, and not its type, tells a class's members from the family's own.
std::string opclass_member(const std::string& catalog, const std::string& opclass = "") {
  return "exists (select 1 from pg_depend dep where dep.classid = '" + catalog +
         "'::regclass and dep.objid = m.oid and dep.refclassid = 'pg_opclass'::regclass" +
         (opclass.empty() ? "" : " and dep.refobjid = " + opclass) + ")";
}

// The operators and support functions of family oid whose rows satisfy
// where (on pg_amop m, pg_amproc m), as sorted arrays of lines:
// "strategy: operator(left,right)", with "for order by <family>" for an
// ordering operator, and "number (left type, right type): function(args)".
// (An operator's left and right types are its arguments'; a function's are
// given apart, FUNCTION 1 (int, bigint) ...)
std::string opfamily_operators(const std::string& family, const std::string& where) {
  return "(select coalesce(jsonb_agg(m.amopstrategy || ': ' || m.amopopr::regoperator::text || case when "
         "m.amoppurpose = 'o' then ' for order by ' || " +
         opfamily_name("m.amopsortfamily") +
         " else '' end order by m.amopstrategy, format_type(m.amoplefttype, null), "
         "format_type(m.amoprighttype, null)), '[]'::jsonb) from pg_amop m where m.amopfamily = " +
         family + " and " + where + ")";
}
std::string opfamily_functions(const std::string& family, const std::string& where) {
  return "(select coalesce(jsonb_agg(m.amprocnum || ' (' || format_type(m.amproclefttype, null) || ', ' || "
         "format_type(m.amprocrighttype, null) || '): ' || m.amproc::regprocedure::text order by "
         "m.amprocnum, format_type(m.amproclefttype, null), format_type(m.amprocrighttype, null)), "
         "'[]'::jsonb) from pg_amproc m where m.amprocfamily = " +
         family + " and " + where + ")";
}

// A collation's name when it is not the one its type has anyway.
std::string collation_unless(const std::string& collation, const std::string& type_collation) {
  return "(select co.collname from pg_collation co where co.oid = " + collation + " and " + collation +
         " <> " + type_collation + ")";
}

// Fingerprints: the versions (xmin) of the catalog rows an object is read
// from. Any change to a row gives it a new xmin, a deleted row leaves the
// list, and a clone keeps both OIDs and xmins, so an equal fingerprint means
// an equal description.
std::string row_versions(const std::string& table, const std::string& where, const std::string& order) {
  return "coalesce((select string_agg(x.xmin::text, ',' order by " + order + ") from " + table + " x where " +
         where + "), '')";
}
std::string comment_versions(const std::string& oid, const std::string& catalog) {
  return row_versions("pg_description", "x.objoid = " + oid + " and x.classoid = '" + catalog + "'::regclass",
                      "x.objsubid");
}
std::string fingerprint(const std::vector<std::string>& parts) {
  std::string out = "concat_ws('/'";
  for (const auto& p : parts) out += ", " + p;
  return out + ")";
}

// The columns of relation c (alias), in logical order: what tables and views
// share. extra adds fields.
std::string columns_of(const std::string& extra) {
  return "(select coalesce(jsonb_agg(jsonb_build_object("
         "'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), "
         "'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end, "
         "'collation', " +
         collation_unless("a.attcollation", "ty.typcollation") +
         ", 'comment', col_description(c.oid, a.attnum), "
         "'privileges', case when a.attacl is not null then " +
         acl("a.attacl") + " end)" + extra +
         " order by a.attnum), '[]'::jsonb) "
         "from pg_attribute a join pg_type ty on ty.oid = a.atttypid "
         "left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
         "where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)";
}

std::vector<category> make_categories() {
  const std::string us = user_schema;
  // A relation of the same schema named by its index (the table's index for clustering, replica identity).
  const std::string table_index =
      "(select ci.relname from pg_index x join pg_class ci on ci.oid = x.indexrelid "
      "where x.indrelid = c.oid and x.";
  return {
      {"schemas", "n.nspname",
       "jsonb_build_object('owner', " + role_name("n.nspowner") +
           ", 'comment', "
           "obj_description(n.oid, 'pg_namespace'), 'privileges', " +
           acl("n.nspacl", "n", "n.nspowner") + ")",
       "from pg_namespace n where " + us + " and " + not_extension_member("pg_namespace", "n.oid"), "n.oid",
       fingerprint({"n.xmin::text", comment_versions("n.oid", "pg_namespace")})},
      {"extensions", "e.extname", "jsonb_build_object('schema', n.nspname, 'version', e.extversion)",
       "from pg_extension e join pg_namespace n on n.oid = e.extnamespace where true", "e.oid",
       fingerprint({"e.xmin::text", "n.xmin::text"})},
      {"types", "n.nspname || '.' || t.typname",
       "case t.typtype "
       "when 'e' then jsonb_build_object('kind', 'enum', 'labels', (select jsonb_agg(e.enumlabel order by "
       "e.enumsortorder) from pg_enum e where e.enumtypid = t.oid)) "
       "when 'd' then jsonb_build_object('kind', 'domain', 'base', format_type(t.typbasetype, t.typtypmod), "
       "'not_null', t.typnotnull, 'default', t.typdefault, 'collation', " +
           collation_unless("t.typcollation",
                            "(select b.typcollation from pg_type b where b.oid = t.typbasetype)") +
           ", 'checks', (select "
           "coalesce(jsonb_agg(jsonb_build_object("
           "'name', c.conname, 'definition', pg_get_constraintdef(c.oid), 'comment', "
           "obj_description(c.oid, 'pg_constraint')) order by c.conname), '[]'::jsonb) "
           "from pg_constraint c where c.contypid = t.oid)) "
           "when 'c' then jsonb_build_object('kind', 'composite', 'attributes', (select "
           "jsonb_agg(jsonb_build_object("
           "'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'collation', " +
           collation_unless("a.attcollation", "ty.typcollation") +
           ") order by a.attnum) from pg_attribute a join pg_type ty on ty.oid = a.atttypid "
           "where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped)) "
           "when 'r' then (select jsonb_build_object('kind', 'range', 'subtype', format_type(r.rngsubtype, "
           "null), "
           "'subtype_opclass', (select oc.opcname from pg_opclass oc where oc.oid = r.rngsubopc), "
           "'collation', (select co.collname from pg_collation co where co.oid = r.rngcollation), "
           "'canonical', " +
           proc_name("r.rngcanonical") + ", 'subdiff', " + proc_name("r.rngsubdiff") +
           ", 'multirange', format_type(r.rngmultitypid, null)) from pg_range r where r.rngtypid = t.oid) "
           // A base type (CREATE TYPE with INPUT and OUTPUT): its functions and storage.
           "when 'b' then jsonb_build_object('kind', 'base', 'input', " +
           proc_name("t.typinput") + ", 'output', " + proc_name("t.typoutput") + ", 'receive', " +
           proc_name("t.typreceive") + ", 'send', " + proc_name("t.typsend") + ", 'typmod_in', " +
           proc_name("t.typmodin") + ", 'typmod_out', " + proc_name("t.typmodout") + ", 'analyze', " +
           proc_name("t.typanalyze") + ", 'subscript', " + proc_name("t.typsubscript") +
           ", 'length', t.typlen, 'by_value', t.typbyval, 'alignment', t.typalign, 'storage', t.typstorage, "
           "'category', t.typcategory, 'preferred', t.typispreferred, 'delimiter', t.typdelim, 'element', "
           "case when t.typelem <> 0 then format_type(t.typelem, null) end, 'default', t.typdefault, "
           "'collatable', t.typcollation <> 0) "
           "end "
           "|| jsonb_build_object('owner', " +
           role_name("t.typowner") +
           ", 'comment', obj_description(t.oid, "
           "'pg_type'), "
           "'privileges', " +
           acl("t.typacl", "T", "t.typowner") + ")",
       "from pg_type t join pg_namespace n on n.oid = t.typnamespace "
       "left join pg_class rc on rc.oid = t.typrelid "
       // Base types, but not the array type each type gets (the typarray of another).
       "where t.typtype in ('e', 'd', 'c', 'r', 'b') and (t.typtype <> 'c' or rc.relkind = 'c') and "
       "not exists (select 1 from pg_type e where e.typarray = t.oid) and " +
           us + " and " + not_extension_member("pg_type", "t.oid"),
       "t.oid",
       fingerprint({"t.xmin::text", row_versions("pg_enum", "x.enumtypid = t.oid", "x.oid"),
                    row_versions("pg_constraint", "x.contypid = t.oid", "x.oid"),
                    row_versions("pg_description",
                                 "x.classoid = 'pg_constraint'::regclass and x.objoid in (select k.oid from "
                                 "pg_constraint k where k.contypid = t.oid)",
                                 "x.objoid"),
                    row_versions("pg_attribute", "x.attrelid = t.typrelid and t.typrelid <> 0", "x.attnum"),
                    row_versions("pg_range", "x.rngtypid = t.oid", "x.rngtypid"),
                    comment_versions("t.oid", "pg_type")})},
      {"tables", "n.nspname || '.' || c.relname",
       "jsonb_build_object("
       "'kind', case c.relkind when 'r' then 'table' when 'p' then 'partitioned table' else 'foreign table' "
       "end, "
       "'unlogged', c.relpersistence = 'u', "
       "'owner', " +
           role_name("c.relowner") +
           ", "
           "'rls_enabled', c.relrowsecurity, 'rls_forced', c.relforcerowsecurity, "
           "'partition_of', (select pn.nspname || '.' || p.relname from pg_inherits i join pg_class p on "
           "p.oid = "
           "i.inhparent join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid and "
           "c.relispartition), "
           "'partition_bound', pg_get_expr(c.relpartbound, c.oid), "
           "'partition_key', pg_get_partkeydef(c.oid), "
           // Table inheritance (INHERITS), parents in their order; a partition's parent is partition_of.
           "'inherits', (select coalesce(jsonb_agg(pn.nspname || '.' || p.relname order by i.inhseqno), "
           "'[]'::jsonb) from pg_inherits i join pg_class p on p.oid = i.inhparent join pg_namespace pn on "
           "pn.oid = p.relnamespace where i.inhrelid = c.oid and not c.relispartition), "
           "'of_type', case when c.reloftype <> 0 then format_type(c.reloftype, null) end, "
           "'access_method', (select am.amname from pg_am am where am.oid = c.relam), "
           "'replica_identity', case c.relreplident when 'd' then 'default' when 'n' then 'nothing' "
           "when 'f' then 'full' else 'index ' || coalesce(" +
           table_index +
           "indisreplident), '?') end, "
           "'clustered_on', " +
           table_index +
           "indisclustered), "
           "'options', to_jsonb(c.reloptions), "
           "'server', (select fs.srvname from pg_foreign_table ft join pg_foreign_server fs on fs.oid = "
           "ft.ftserver where ft.ftrelid = c.oid), "
           "'server_options', (select to_jsonb(ft.ftoptions) from pg_foreign_table ft where ft.ftrelid = "
           "c.oid), "
           "'comment', obj_description(c.oid, 'pg_class'), "
           "'privileges', " +
           acl("c.relacl", "r", "c.relowner") + ", 'columns', " +
           columns_of(
               " || jsonb_build_object('not_null', a.attnotnull, "
               "'generated', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end, "
               "'identity', case a.attidentity when 'a' then 'always' when 'd' then 'by default' end, "
               // Inheritance: whether the column is the table's own and from how many parents.
               "'local', a.attislocal, 'inherited', a.attinhcount, "
               "'storage', case when a.attstorage <> ty.typstorage then case a.attstorage when 'p' then "
               "'plain' when 'e' then 'external' when 'm' then 'main' else 'extended' end end, "
               "'compression', case a.attcompression when 'p' then 'pglz' when 'l' then 'lz4' end, "
               "'statistics', nullif(a.attstattarget, -1), "
               "'options', to_jsonb(a.attoptions), 'server_options', to_jsonb(a.attfdwoptions))") +
           ")",
       "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
       "where c.relkind in ('r', 'p', 'f') and " +
           us + " and " + not_extension_member("pg_class", "c.oid"),
       "c.oid",
       fingerprint({"c.xmin::text",
                    row_versions("pg_attribute", "x.attrelid = c.oid and x.attnum > 0", "x.attnum"),
                    row_versions("pg_attrdef", "x.adrelid = c.oid", "x.adnum"),
                    row_versions("pg_inherits", "x.inhrelid = c.oid", "x.inhseqno"),
                    row_versions("pg_index", "x.indrelid = c.oid", "x.indexrelid"),
                    row_versions("pg_foreign_table", "x.ftrelid = c.oid", "x.ftrelid"),
                    row_versions("pg_description", "x.objoid = c.oid and x.classoid = 'pg_class'::regclass",
                                 "x.objsubid")})},
      {"constraints", "n.nspname || '.' || c.relname || '.' || k.conname",
       "jsonb_build_object("
       "'type', case k.contype when 'p' then 'primary key' when 'u' then 'unique' when 'f' then 'foreign "
       "key' "
       "when 'c' then 'check' when 'x' then 'exclusion' when 't' then 'trigger' else k.contype::text end, "
       // The definition says DEFERRABLE, INITIALLY DEFERRED, NOT VALID, NO INHERIT, MATCH and the actions.
       "'definition', pg_get_constraintdef(k.oid), 'validated', k.convalidated, "
       "'local', k.conislocal, 'inherited', k.coninhcount, "
       "'comment', obj_description(k.oid, 'pg_constraint'))",
       "from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = "
       "c.relnamespace "
       "where k.contype <> 'n' and " +
           us + " and " + not_extension_member("pg_class", "c.oid"),
       "k.oid", fingerprint({"k.xmin::text", comment_versions("k.oid", "pg_constraint")})},
      {"indexes", "n.nspname || '.' || ic.relname",
       "jsonb_build_object("
       "'table', n.nspname || '.' || c.relname, 'definition', pg_get_indexdef(i.indexrelid), "
       "'valid', i.indisvalid, "
       "'partition_of', (select pn.nspname || '.' || p.relname from pg_inherits h join pg_class p on p.oid = "
       "h.inhparent join pg_namespace pn on pn.oid = p.relnamespace where h.inhrelid = ic.oid), "
       "'comment', obj_description(ic.oid, 'pg_class'))",
       "from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class c on c.oid = i.indrelid "
       "join pg_namespace n on n.oid = ic.relnamespace "
       "where not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype in "
       "('p', 'u', "
       "'x') and k.conrelid = i.indrelid) and c.relkind <> 't' and " +
           us + " and " + not_extension_member("pg_class", "c.oid"),
       "ic.oid",
       fingerprint({"ic.xmin::text", "i.xmin::text", "c.oid::text",
                    row_versions("pg_inherits", "x.inhrelid = ic.oid", "x.inhseqno"),
                    comment_versions("ic.oid", "pg_class")})},
      {"views", "n.nspname || '.' || c.relname",
       "jsonb_build_object("
       "'kind', case c.relkind when 'v' then 'view' else 'materialized view' end, "
       // The options hold check_option (WITH CHECK OPTION), security_barrier and security_invoker.
       "'definition', pg_get_viewdef(c.oid, true), 'options', to_jsonb(c.reloptions), "
       "'populated', case when c.relkind = 'm' then c.relispopulated end, "
       "'owner', " +
           role_name("c.relowner") + ", 'comment', obj_description(c.oid, 'pg_class'), 'columns', " +
           columns_of("") + ", 'privileges', " + acl("c.relacl", "r", "c.relowner") + ")",
       "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
       "where c.relkind in ('v', 'm') and " +
           us + " and " + not_extension_member("pg_class", "c.oid"),
       "c.oid",
       fingerprint({"c.xmin::text", row_versions("pg_rewrite", "x.ev_class = c.oid", "x.oid"),
                    row_versions("pg_attribute", "x.attrelid = c.oid and x.attnum > 0", "x.attnum"),
                    row_versions("pg_attrdef", "x.adrelid = c.oid", "x.adnum"),
                    row_versions("pg_description", "x.objoid = c.oid and x.classoid = 'pg_class'::regclass",
                                 "x.objsubid")})},
      {"sequences", "n.nspname || '.' || c.relname",
       "jsonb_build_object("
       "'type', format_type(s.seqtypid, null), 'start', s.seqstart, 'increment', s.seqincrement, "
       "'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle, "
       "'unlogged', c.relpersistence = 'u', "
       "'owned_by', (select tn.nspname || '.' || t.relname || '.' || a.attname from pg_depend d "
       "join pg_class t on t.oid = d.refobjid join pg_namespace tn on tn.oid = t.relnamespace "
       "join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid "
       "where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass "
       "and d.deptype in ('a', 'i') limit 1), "
       "'owner', " +
           role_name("c.relowner") +
           ", 'comment', obj_description(c.oid, 'pg_class'), "
           "'privileges', " +
           acl("c.relacl", "s", "c.relowner") + ")",
       "from pg_class c join pg_sequence s on s.seqrelid = c.oid "
       "join pg_namespace n on n.oid = c.relnamespace where " +
           us + " and " + not_extension_member("pg_class", "c.oid"),
       "c.oid",
       fingerprint({"c.xmin::text", "s.xmin::text",
                    row_versions("pg_depend", "x.classid = 'pg_class'::regclass and x.objid = c.oid",
                                 "x.refclassid, x.refobjid, x.refobjsubid, x.deptype"),
                    comment_versions("c.oid", "pg_class")})},
      {"functions",
       "n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'",
       "jsonb_build_object("
       "'kind', case p.prokind when 'f' then 'function' when 'p' then 'procedure' when 'a' then 'aggregate' "
       "else 'window function' end, "
       "'arguments', pg_get_function_arguments(p.oid), 'returns', pg_get_function_result(p.oid), "
       // A SQL-standard body (BEGIN ATOMIC, RETURN) is not in prosrc.
       "'language', l.lanname, 'body', case when p.prokind <> 'a' then "
       "coalesce(pg_get_function_sqlbody(p.oid), p.prosrc) end, "
       "'binary', p.probin, "
       "'aggregate', (select jsonb_build_object('sfunc', ag.aggtransfn::regproc::text, 'stype', "
       "format_type(ag.aggtranstype, null), 'finalfunc', " +
           proc_name("ag.aggfinalfn") +
           ", 'initcond', ag.agginitval, "
           "'kind', case ag.aggkind when 'n' then 'normal' when 'o' then 'ordered-set' else 'hypothetical' "
           "end, 'direct_arguments', ag.aggnumdirectargs, 'finalfunc_extra', ag.aggfinalextra, "
           "'finalfunc_modify', ag.aggfinalmodify, 'combinefunc', " +
           proc_name("ag.aggcombinefn") + ", 'serialfunc', " + proc_name("ag.aggserialfn") +
           ", 'deserialfunc', " + proc_name("ag.aggdeserialfn") + ", 'msfunc', " +
           proc_name("ag.aggmtransfn") + ", 'minvfunc', " + proc_name("ag.aggminvtransfn") +
           ", 'mfinalfunc', " + proc_name("ag.aggmfinalfn") +
           ", 'mstype', case when ag.aggmtranstype <> 0 then format_type(ag.aggmtranstype, null) end, "
           "'minitcond', ag.aggminitval, 'sspace', ag.aggtransspace, "
           "'sortop', case when ag.aggsortop <> 0 then ag.aggsortop::regoperator::text end) "
           "from pg_aggregate ag where ag.aggfnoid = p.oid), "
           "'security_definer', p.prosecdef, "
           "'volatility', case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else "
           "'volatile' "
           "end, "
           "'strict', p.proisstrict, "
           "'parallel', case p.proparallel when 's' then 'safe' when 'r' then 'restricted' else 'unsafe' "
           "end, "
           "'leakproof', p.proleakproof, 'cost', p.procost, 'rows', p.prorows, 'support', " +
           proc_name("p.prosupport") +
           ", "
           "'settings', (select coalesce(jsonb_agg(s order by s), '[]'::jsonb) from unnest(p.proconfig) s), "
           "'owner', " +
           role_name("p.proowner") +
           ", 'comment', obj_description(p.oid, 'pg_proc'), "
           "'privileges', " +
           acl("p.proacl", "f", "p.proowner") + ")",
       "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
       "join pg_language l on l.oid = p.prolang where " +
           us + " and " + not_extension_member("pg_proc", "p.oid"),
       "p.oid",
       fingerprint({"p.xmin::text", row_versions("pg_aggregate", "x.aggfnoid = p.oid", "x.aggfnoid"),
                    comment_versions("p.oid", "pg_proc")})},
      // Procedural languages: initdb's (c, internal, sql; plpgsql is an extension's) are below 16384.
      {"languages", "l.lanname",
       "jsonb_build_object('trusted', l.lanpltrusted, 'handler', " + proc_signature("l.lanplcallfoid") +
           ", 'inline', " + proc_signature("l.laninline") + ", 'validator', " +
           proc_signature("l.lanvalidator") + ", 'owner', " + role_name("l.lanowner") +
           ", 'comment', obj_description(l.oid, 'pg_language'), 'privileges', " +
           acl("l.lanacl", "l", "l.lanowner") + ")",
       "from pg_language l where l.oid >= 16384 and " + not_extension_member("pg_language", "l.oid"), "l.oid",
       fingerprint({"l.xmin::text", comment_versions("l.oid", "pg_language")})},
      {"triggers", "n.nspname || '.' || c.relname || '.' || t.tgname",
       "jsonb_build_object("
       // The definition says the timing, events, columns, WHEN, FOR EACH, transition tables and, for a
       // constraint trigger, DEFERRABLE and INITIALLY DEFERRED.
       "'definition', pg_get_triggerdef(t.oid), "
       "'enabled', case t.tgenabled when 'O' then 'origin' when 'D' then 'disabled' when 'R' then 'replica' "
       "else 'always' end, 'comment', obj_description(t.oid, 'pg_trigger'))",
       "from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace "
       "where not t.tgisinternal and " +
           us + " and " + not_extension_member("pg_class", "c.oid"),
       "t.oid", fingerprint({"t.xmin::text", comment_versions("t.oid", "pg_trigger")})},
      {"policies", "n.nspname || '.' || c.relname || '.' || p.polname",
       "jsonb_build_object("
       "'command', case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' "
       "when 'd' then 'DELETE' else 'ALL' end, "
       "'permissive', p.polpermissive, "
       "'roles', (select jsonb_agg(" +
           grantee_name("r") + " order by " + grantee_name("r") +
           ") from unnest(p.polroles) r), "
           "'using', pg_get_expr(p.polqual, p.polrelid), 'with_check', pg_get_expr(p.polwithcheck, "
           "p.polrelid), "
           "'comment', obj_description(p.oid, 'pg_policy'))",
       "from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace "
       "where " +
           us,
       "p.oid", fingerprint({"p.xmin::text", comment_versions("p.oid", "pg_policy")})},
      {"rules", "n.nspname || '.' || c.relname || '.' || r.rulename",
       "jsonb_build_object('definition', pg_get_ruledef(r.oid, true), "
       "'enabled', case r.ev_enabled when 'O' then 'origin' when 'D' then 'disabled' when 'R' then 'replica' "
       "else 'always' end, 'comment', obj_description(r.oid, 'pg_rewrite'))",
       "from pg_rewrite r join pg_class c on c.oid = r.ev_class "
       "join pg_namespace n on n.oid = c.relnamespace where r.rulename <> '_RETURN' and " +
           us,
       "r.oid", fingerprint({"r.xmin::text", comment_versions("r.oid", "pg_rewrite")})},
      {"event_triggers", "e.evtname",
       "jsonb_build_object('event', e.evtevent, 'function', e.evtfoid::regproc::text, "
       "'enabled', e.evtenabled, 'tags', to_jsonb(e.evttags), 'owner', " +
           role_name("e.evtowner") + ", 'comment', obj_description(e.oid, 'pg_event_trigger'))",
       "from pg_event_trigger e where " + not_extension_member("pg_event_trigger", "e.oid"), "e.oid",
       fingerprint({"e.xmin::text", comment_versions("e.oid", "pg_event_trigger")})},
      {"default_privileges",
       role_name("d.defaclrole") +
           " || coalesce(' in ' || n.nspname, '') || ' on ' || "
           "case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions' "
           "when 'T' then 'types' when 'n' then 'schemas' end",
       "jsonb_build_object('privileges', " + acl("d.defaclacl") + ")",
       "from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace where true", "d.oid",
       fingerprint({"d.xmin::text"})},
      {"collations", "n.nspname || '.' || co.collname",
       "jsonb_build_object("
       "'provider', case co.collprovider when 'c' then 'libc' when 'i' then 'icu' else 'default' end, "
       "'deterministic', co.collisdeterministic, 'collate', co.collcollate, 'ctype', co.collctype, "
       // colliculocale until PostgreSQL 16, colllocale from 17.
       "'locale', coalesce(to_jsonb(co)->>'colliculocale', to_jsonb(co)->>'colllocale'), "
       "'rules', to_jsonb(co)->>'collicurules', "
       "'owner', " +
           role_name("co.collowner") + ", 'comment', obj_description(co.oid, 'pg_collation'))",
       "from pg_collation co join pg_namespace n on n.oid = co.collnamespace where " + us + " and " +
           not_extension_member("pg_collation", "co.oid"),
       "co.oid", fingerprint({"co.xmin::text", comment_versions("co.oid", "pg_collation")})},
      {"casts", "format_type(ca.castsource, null) || ' as ' || format_type(ca.casttarget, null)",
       "jsonb_build_object("
       "'function', case when ca.castfunc <> 0 then ca.castfunc::regprocedure::text end, "
       "'context', case ca.castcontext when 'e' then 'explicit' when 'a' then 'assignment' else 'implicit' "
       "end, "
       "'method', case ca.castmethod when 'f' then 'function' when 'i' then 'inout' else 'binary' end, "
       "'comment', obj_description(ca.oid, 'pg_cast'))",
       // Casts have no schema: the user's are those initdb did not make.
       "from pg_cast ca where ca.oid >= 16384 and " + not_extension_member("pg_cast", "ca.oid"), "ca.oid",
       fingerprint({"ca.xmin::text", comment_versions("ca.oid", "pg_cast")})},
      {"operators",
       "n.nspname || '.' || o.oprname || '(' || case when o.oprleft = 0 then 'NONE' else "
       "format_type(o.oprleft, null) end || ', ' || format_type(o.oprright, null) || ')'",
       "jsonb_build_object("
       "'function', o.oprcode::regprocedure::text, 'result', format_type(o.oprresult, null), "
       "'commutator', case when o.oprcom <> 0 then o.oprcom::regoperator::text end, "
       "'negator', case when o.oprnegate <> 0 then o.oprnegate::regoperator::text end, "
       "'restrict', " +
           proc_name("o.oprrest") + ", 'join', " + proc_name("o.oprjoin") +
           ", 'hashes', o.oprcanhash, 'merges', o.oprcanmerge, 'owner', " + role_name("o.oprowner") +
           ", 'comment', obj_description(o.oid, 'pg_operator'))",
       "from pg_operator o join pg_namespace n on n.oid = o.oprnamespace where " + us + " and " +
           not_extension_member("pg_operator", "o.oid"),
       "o.oid", fingerprint({"o.xmin::text", comment_versions("o.oid", "pg_operator")})},
      // Families and classes are named with their access method: the same name may be used by each.
      // A class lists the members bound to it, a family the others (see opclass_member): each member
      // once, where dropping it would leave it.
      {"operator_families", "n.nspname || '.' || f.opfname || ' using ' || am.amname",
       "jsonb_build_object('operators', " + opfamily_operators("f.oid", "not " + opclass_member("pg_amop")) +
           ", 'functions', " + opfamily_functions("f.oid", "not " + opclass_member("pg_amproc")) +
           ", 'owner', " + role_name("f.opfowner") + ", 'comment', obj_description(f.oid, 'pg_opfamily'))",
       "from pg_opfamily f join pg_namespace n on n.oid = f.opfnamespace "
       "join pg_am am on am.oid = f.opfmethod where " +
           us + " and " + not_extension_member("pg_opfamily", "f.oid"),
       "f.oid",
       // Every member's row, bound or not: which ones are bound is fixed when a row is made.
       fingerprint({"f.xmin::text", row_versions("pg_amop", "x.amopfamily = f.oid", "x.oid"),
                    row_versions("pg_amproc", "x.amprocfamily = f.oid", "x.oid"),
                    comment_versions("f.oid", "pg_opfamily")})},
      {"operator_classes", "n.nspname || '.' || oc.opcname || ' using ' || am.amname",
       "jsonb_build_object('type', format_type(oc.opcintype, null), 'default', oc.opcdefault, 'family', " +
           opfamily_name("oc.opcfamily") +
           // STORAGE: the type the index stores when it is not the input type (opckeytype).
           ", 'storage', case when oc.opckeytype <> 0 then format_type(oc.opckeytype, null) end, "
           "'operators', " +
           opfamily_operators("oc.opcfamily", opclass_member("pg_amop", "oc.oid")) + ", 'functions', " +
           opfamily_functions("oc.opcfamily", opclass_member("pg_amproc", "oc.oid")) + ", 'owner', " +
           role_name("oc.opcowner") + ", 'comment', obj_description(oc.oid, 'pg_opclass'))",
       "from pg_opclass oc join pg_namespace n on n.oid = oc.opcnamespace "
       "join pg_am am on am.oid = oc.opcmethod where " +
           us + " and " + not_extension_member("pg_opclass", "oc.oid"),
       "oc.oid",
       // Its family's member rows: its own are among them.
       fingerprint({"oc.xmin::text", row_versions("pg_amop", "x.amopfamily = oc.opcfamily", "x.oid"),
                    row_versions("pg_amproc", "x.amprocfamily = oc.opcfamily", "x.oid"),
                    comment_versions("oc.oid", "pg_opclass")})},
      {"text_search_configurations", "n.nspname || '.' || cfg.cfgname",
       "jsonb_build_object("
       "'parser', (select pn.nspname || '.' || pr.prsname from pg_ts_parser pr join pg_namespace pn on "
       "pn.oid = pr.prsnamespace where pr.oid = cfg.cfgparser), "
       // One line per token type: its dictionaries in the order they are tried.
       "'mappings', (select coalesce(jsonb_agg(m.token || ': ' || m.dictionaries order by m.token), "
       "'[]'::jsonb) from (select tt.alias as token, string_agg(dn.nspname || '.' || d.dictname, ', ' "
       "order by mp.mapseqno) as dictionaries from pg_ts_config_map mp "
       "join ts_token_type(cfg.cfgparser) tt on tt.tokid = mp.maptokentype "
       "join pg_ts_dict d on d.oid = mp.mapdict join pg_namespace dn on dn.oid = d.dictnamespace "
       "where mp.mapcfg = cfg.oid group by tt.alias) m), "
       "'owner', " +
           role_name("cfg.cfgowner") + ", 'comment', obj_description(cfg.oid, 'pg_ts_config'))",
       "from pg_ts_config cfg join pg_namespace n on n.oid = cfg.cfgnamespace where " + us + " and " +
           not_extension_member("pg_ts_config", "cfg.oid"),
       "cfg.oid",
       fingerprint({"cfg.xmin::text",
                    row_versions("pg_ts_config_map", "x.mapcfg = cfg.oid", "x.maptokentype, x.mapseqno"),
                    comment_versions("cfg.oid", "pg_ts_config")})},
      {"text_search_dictionaries", "n.nspname || '.' || d.dictname",
       "jsonb_build_object("
       "'template', (select tn.nspname || '.' || tm.tmplname from pg_ts_template tm join pg_namespace tn on "
       "tn.oid = tm.tmplnamespace where tm.oid = d.dicttemplate), 'options', d.dictinitoption, "
       "'owner', " +
           role_name("d.dictowner") + ", 'comment', obj_description(d.oid, 'pg_ts_dict'))",
       "from pg_ts_dict d join pg_namespace n on n.oid = d.dictnamespace where " + us + " and " +
           not_extension_member("pg_ts_dict", "d.oid"),
       "d.oid", fingerprint({"d.xmin::text", comment_versions("d.oid", "pg_ts_dict")})},
      {"statistics", "n.nspname || '.' || s.stxname",
       "jsonb_build_object('definition', pg_get_statisticsobjdef(s.oid), "
       // -1 (the default) until PostgreSQL 16, null from 17.
       "'statistics', nullif((to_jsonb(s)->>'stxstattarget')::int, -1), "
       "'owner', " +
           role_name("s.stxowner") + ", 'comment', obj_description(s.oid, 'pg_statistic_ext'))",
       "from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace where " + us + " and " +
           not_extension_member("pg_statistic_ext", "s.oid"),
       "s.oid", fingerprint({"s.xmin::text", comment_versions("s.oid", "pg_statistic_ext")})},
      {"publications", "p.pubname",
       "jsonb_build_object("
       "'all_tables', p.puballtables, 'insert', p.pubinsert, 'update', p.pubupdate, 'delete', p.pubdelete, "
       "'truncate', p.pubtruncate, 'via_root', p.pubviaroot, "
       "'tables', (select coalesce(jsonb_agg(jsonb_build_object('table', tn.nspname || '.' || t.relname, "
       "'where', pg_get_expr(pr.prqual, pr.prrelid), 'columns', (select jsonb_agg(a.attname order by "
       "a.attnum) "
       "from pg_attribute a where a.attrelid = pr.prrelid and a.attnum = any(pr.prattrs::int2[]))) "
       "order by tn.nspname, t.relname), '[]'::jsonb) from pg_publication_rel pr "
       "join pg_class t on t.oid = pr.prrelid join pg_namespace tn on tn.oid = t.relnamespace "
       "where pr.prpubid = p.oid), "
       "'schemas', (select coalesce(jsonb_agg(sn.nspname order by sn.nspname), '[]'::jsonb) from "
       "pg_publication_namespace pn join pg_namespace sn on sn.oid = pn.pnnspid where pn.pnpubid = p.oid), "
       "'owner', " +
           role_name("p.pubowner") + ", 'comment', obj_description(p.oid, 'pg_publication'))",
       "from pg_publication p where " + not_extension_member("pg_publication", "p.oid"), "p.oid",
       fingerprint({"p.xmin::text", row_versions("pg_publication_rel", "x.prpubid = p.oid", "x.oid"),
                    row_versions("pg_publication_namespace", "x.pnpubid = p.oid", "x.oid"),
                    comment_versions("p.oid", "pg_publication")})},
      {"foreign_data_wrappers", "w.fdwname",
       "jsonb_build_object('handler', " + proc_name("w.fdwhandler") + ", 'validator', " +
           proc_name("w.fdwvalidator") + ", 'options', to_jsonb(w.fdwoptions), 'owner', " +
           role_name("w.fdwowner") + ", 'comment', obj_description(w.oid, 'pg_foreign_data_wrapper'), " +
           "'privileges', " + acl("w.fdwacl", "F", "w.fdwowner") + ")",
       "from pg_foreign_data_wrapper w where " + not_extension_member("pg_foreign_data_wrapper", "w.oid"),
       "w.oid", fingerprint({"w.xmin::text", comment_versions("w.oid", "pg_foreign_data_wrapper")})},
      {"foreign_servers", "s.srvname",
       "jsonb_build_object('wrapper', (select w.fdwname from pg_foreign_data_wrapper w where w.oid = "
       "s.srvfdw), "
       "'type', s.srvtype, 'version', s.srvversion, 'options', to_jsonb(s.srvoptions), "
       // User mappings by user, with the names of their options only: their values are often passwords,
       // which a snapshot file committed to git must not hold (and only superusers may read them).
       "'user_mappings', (select coalesce(jsonb_agg(jsonb_build_object('user', " +
           grantee_name("um.umuser") +
           ", 'options', (select coalesce(jsonb_agg(split_part(o, '=', 1) order by split_part(o, '=', 1)), "
           "'[]'::jsonb) "
           "from unnest(um.umoptions) o)) order by " +
           grantee_name("um.umuser") +
           "), '[]'::jsonb) from pg_user_mappings um where um.srvid = s.oid), "
           "'owner', " +
           role_name("s.srvowner") + ", 'comment', obj_description(s.oid, 'pg_foreign_server'), " +
           "'privileges', " + acl("s.srvacl", "S", "s.srvowner") + ")",
       "from pg_foreign_server s where " + not_extension_member("pg_foreign_server", "s.oid"), "s.oid",
       // pg_user_mapping's rows are the superuser's to read: the mappings go in as they are read.
       fingerprint({"s.xmin::text", comment_versions("s.oid", "pg_foreign_server"),
                    "(select md5(string_agg(um.umuser::text || ':' || coalesce(um.umoptions::text, ''), ',' "
                    "order by um.umuser)) from pg_user_mappings um where um.srvid = s.oid)"})},
  };
}

}  // namespace

const std::vector<category>& categories() {
  static const std::vector<category> all = make_categories();
  return all;
}

const std::map<std::string, category_sources>& sources_by_category() {
  static const std::map<std::string, category_sources> m = {
      {"schemas", {"pg_namespace", {"pg_namespace", "comment:pg_namespace"}, {"pg_description"}}},
      // (A renamed schema is found through its own category, which then reads everything.)
      {"extensions", {"pg_extension", {"pg_extension"}, {}}},
      {"types",
       {"pg_type",
        {"pg_type", "pg_enum", "pg_constraint.contypid", "pg_range", "comment:pg_type", "rel:pg_class",
         "rel:pg_attribute", "domain:comment:pg_constraint"},
        {"pg_description", "pg_constraint"}}},
      // NO INHERIT from a parent without columns deletes a pg_inherits row and changes no other row of
      // the child; dropping the index a table is clustered on leaves the table's rows as they were.
      {"tables",
       {"pg_class",
        {"pg_class", "pg_attribute", "pg_attrdef", "pg_inherits", "pg_index.indrelid", "pg_foreign_table",
         "comment:pg_class"},
        {"pg_description", "pg_inherits", "pg_index"}}},
      {"constraints", {"pg_constraint", {"pg_constraint", "comment:pg_constraint"}, {"pg_description"}}},
      {"indexes",
       {"pg_class",
        {"pg_class", "pg_index", "pg_constraint.conindid", "pg_inherits", "comment:pg_class"},
        {"pg_description", "pg_inherits"}}},
      {"views",
       {"pg_class",
        {"pg_class", "pg_rewrite.ev_class", "pg_attribute", "pg_attrdef", "comment:pg_class"},
        {"pg_description"}}},
      {"sequences",
       {"pg_class",
        {"pg_class", "pg_sequence", "depend:pg_class", "comment:pg_class"},
        {"pg_description", "pg_depend"}}},
      {"functions", {"pg_proc", {"pg_proc", "pg_aggregate", "comment:pg_proc"}, {"pg_description"}}},
      {"languages", {"pg_language", {"pg_language", "comment:pg_language"}, {"pg_description"}}},
      {"triggers", {"pg_trigger", {"pg_trigger", "comment:pg_trigger"}, {"pg_description"}}},
      {"policies", {"pg_policy", {"pg_policy", "comment:pg_policy"}, {"pg_description"}}},
      {"rules", {"pg_rewrite", {"pg_rewrite", "comment:pg_rewrite"}, {"pg_description"}}},
      {"event_triggers",
       {"pg_event_trigger", {"pg_event_trigger", "comment:pg_event_trigger"}, {"pg_description"}}},
      {"default_privileges", {"pg_default_acl", {"pg_default_acl"}, {}}},
      {"collations", {"pg_collation", {"pg_collation", "comment:pg_collation"}, {"pg_description"}}},
      {"casts", {"pg_cast", {"pg_cast", "comment:pg_cast"}, {"pg_description"}}},
      {"operators", {"pg_operator", {"pg_operator", "comment:pg_operator"}, {"pg_description"}}},
      // A dropped member (ALTER OPERATOR FAMILY ... DROP, DROP OPERATOR CLASS) leaves no row naming
      // the family: listed in full.
      {"operator_families",
       {"pg_opfamily",
        {"pg_opfamily", "pg_amop.amopfamily", "pg_amproc.amprocfamily", "comment:pg_opfamily"},
        {"pg_description", "pg_amop", "pg_amproc"}}},
      // Member rows name their family, not their class: a change there lists the classes (the user's
      // are few) and compares their fingerprints.
      {"operator_classes",
       {"pg_opclass",
        {"pg_opclass", "list:pg_amop", "list:pg_amproc", "comment:pg_opclass"},
        {"pg_description"}}},
      {"text_search_configurations",
       {"pg_ts_config",
        {"pg_ts_config", "pg_ts_config_map", "comment:pg_ts_config"},
        {"pg_description", "pg_ts_config_map"}}},
      {"text_search_dictionaries", {"pg_ts_dict", {"pg_ts_dict", "comment:pg_ts_dict"}, {"pg_description"}}},
      {"statistics",
       {"pg_statistic_ext", {"pg_statistic_ext", "comment:pg_statistic_ext"}, {"pg_description"}}},
      {"publications",
       {"pg_publication",
        {"pg_publication", "pg_publication_rel.prpubid", "pg_publication_namespace.pnpubid",
         "comment:pg_publication"},
        {"pg_description", "pg_publication_rel", "pg_publication_namespace"}}},
      {"foreign_data_wrappers",
       {"pg_foreign_data_wrapper",
        {"pg_foreign_data_wrapper", "comment:pg_foreign_data_wrapper"},
        {"pg_description"}}},
      {"foreign_servers",
       {"pg_foreign_server",
        {"pg_foreign_server", "comment:pg_foreign_server", "list:pg_user_mapping"},
        {"pg_description"}}},
  };
  return m;
}

const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& owner_columns() {
  static const std::map<std::string, std::vector<std::pair<std::string, std::string>>> columns = {
      {"pg_namespace", {{"pg_namespace", "oid"}}},
      {"pg_extension", {{"pg_extension", "oid"}}},
      {"pg_type", {{"pg_type", "oid"}}},
      {"pg_enum", {{"pg_enum", "enumtypid"}}},
      {"pg_range", {{"pg_range", "rngtypid"}}},
      {"pg_class", {{"pg_class", "oid"}, {"rel:pg_class", "oid"}}},
      {"pg_attribute", {{"pg_attribute", "attrelid"}, {"rel:pg_attribute", "attrelid"}}},
      {"pg_attrdef", {{"pg_attrdef", "adrelid"}}},
      {"pg_inherits", {{"pg_inherits", "inhrelid"}}},
      {"pg_constraint",
       {{"pg_constraint", "oid"},
        {"pg_constraint.contypid", "contypid"},
        {"pg_constraint.conindid", "conindid"}}},
      {"pg_index", {{"pg_index", "indexrelid"}, {"pg_index.indrelid", "indrelid"}}},
      {"pg_rewrite", {{"pg_rewrite", "oid"}, {"pg_rewrite.ev_class", "ev_class"}}},
      {"pg_sequence", {{"pg_sequence", "seqrelid"}}},
      {"pg_proc", {{"pg_proc", "oid"}}},
      {"pg_aggregate", {{"pg_aggregate", "aggfnoid"}}},
      {"pg_trigger", {{"pg_trigger", "oid"}}},
      {"pg_policy", {{"pg_policy", "oid"}}},
      {"pg_event_trigger", {{"pg_event_trigger", "oid"}}},
      {"pg_default_acl", {{"pg_default_acl", "oid"}}},
      {"pg_foreign_table", {{"pg_foreign_table", "ftrelid"}}},
      {"pg_collation", {{"pg_collation", "oid"}}},
      {"pg_cast", {{"pg_cast", "oid"}}},
      {"pg_operator", {{"pg_operator", "oid"}}},
      {"pg_opfamily", {{"pg_opfamily", "oid"}}},
      {"pg_opclass", {{"pg_opclass", "oid"}}},
      {"pg_amop", {{"pg_amop.amopfamily", "amopfamily"}}},
      {"pg_amproc", {{"pg_amproc.amprocfamily", "amprocfamily"}}},
      {"pg_language", {{"pg_language", "oid"}}},
      {"pg_ts_config", {{"pg_ts_config", "oid"}}},
      {"pg_ts_config_map", {{"pg_ts_config_map", "mapcfg"}}},
      {"pg_ts_dict", {{"pg_ts_dict", "oid"}}},
      {"pg_statistic_ext", {{"pg_statistic_ext", "oid"}}},
      {"pg_publication", {{"pg_publication", "oid"}}},
      {"pg_publication_rel", {{"pg_publication_rel.prpubid", "prpubid"}}},
      {"pg_publication_namespace", {{"pg_publication_namespace.pnpubid", "pnpubid"}}},
      {"pg_foreign_data_wrapper", {{"pg_foreign_data_wrapper", "oid"}}},
      {"pg_foreign_server", {{"pg_foreign_server", "oid"}}},
  };
  return columns;
}

const std::map<std::string, std::string>& user_rows_only() {
  static const std::map<std::string, std::string> m = {
      {"pg_attribute", "x.attrelid >= 16384"}, {"pg_attrdef", "x.adrelid >= 16384"},
      {"pg_class", "x.oid >= 16384"},          {"pg_proc", "x.oid >= 16384"},
      {"pg_type", "x.oid >= 16384"},           {"pg_constraint", "x.oid >= 16384"},
      {"pg_index", "x.indexrelid >= 16384"},   {"pg_rewrite", "x.oid >= 16384"},
      {"pg_collation", "x.oid >= 16384"},      {"pg_cast", "x.oid >= 16384"},
      {"pg_operator", "x.oid >= 16384"},       {"pg_ts_config", "x.oid >= 16384"},
      {"pg_ts_dict", "x.oid >= 16384"},        {"pg_ts_config_map", "x.mapcfg >= 16384"},
      {"pg_opfamily", "x.oid >= 16384"},       {"pg_opclass", "x.oid >= 16384"},
      {"pg_amop", "x.oid >= 16384"},           {"pg_amproc", "x.oid >= 16384"}};
  return m;
}

// What every description may name besides the objects above: roles (owners,
// grantees) and user-defined collations, operators, operator classes, text
// search objects, languages and foreign servers. When any of them is created,
// renamed or dropped, the whole catalog is read again. So it is when an
// object joins or leaves an extension (ALTER EXTENSION ... ADD/DROP), which
// changes no row of the object itself, and when the catalog is read as
// another role (the role written "postgres", see role_name). The second
// column is the read's horizon (see catalog::horizon).
const char* const global_fingerprint_sql =
    "select concat_ws('|', (select string_agg(oid::text || ':' || md5(rolname), ',' order by oid) from "
    "pg_roles), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_collation where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_operator where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_opclass where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_opfamily where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_ts_config where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_ts_dict where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_language where oid >= "
    "16384), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_foreign_server), "
    "(select string_agg(oid::text || ':' || xmin::text, ',' order by oid) from pg_foreign_data_wrapper), "
    "(select md5(string_agg(classid::text || ':' || objid::text, ',' order by classid, objid)) from "
    "pg_depend "
    "where refclassid = 'pg_extension'::regclass and deptype = 'e'), "
    "session_user), "
    "txid_snapshot_xmax(txid_current_snapshot()) % 4294967296";

}  // namespace pgmt::detail
