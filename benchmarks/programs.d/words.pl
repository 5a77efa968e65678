# Hash, string and regex work, as Perl's text-processing scripts do it:
# words are generated, counted in a hash, rewritten with regexes, sorted,
# joined and split. Prints an MD5 digest of what it computed, so that runs
# under different allocators can be compared.
#
#     perl words.pl [SCALE]
use strict;
use warnings;
use Digest::MD5;

my $scale = $ARGV[0] // 1;
my $state = 12345;
sub next_random { $state = ($state * 1103515245 + 12345) % 2147483648; return $state >> 8; }

my $digest = Digest::MD5->new;
my @letters = ('a' .. 'z');
my $rounds = int(3 * $scale + 0.5) || 1;
my %counts;
for my $round (1 .. $rounds) {
    my @words;
    for (1 .. 40000) {
        my $length = 2 + next_random() % 9;
        push @words, join '', map { $letters[next_random() % 26] } 1 .. $length;
    }
    %counts = ();
    $counts{$_}++ for @words;
    my $text = join ' ', @words;
    (my $vowels = $text) =~ s/([aeiou])([^aeiou ]+)/\U$2\E$1/g;
    my @parts = split / /, $vowels;
    my %by_first;
    push @{ $by_first{ substr($_, 0, 1) } }, $_ for @parts;
    for my $letter (sort keys %by_first) {
        $digest->add($letter, scalar @{ $by_first{$letter} }, join(',', (sort @{ $by_first{$letter} })[0 .. 9]));
    }
    $digest->add(map { "$_=$counts{$_};" } (sort { $counts{$b} <=> $counts{$a} || $a cmp $b } keys %counts)[0 .. 999]);
}
printf "words %d %s\n", scalar(keys %counts), $digest->hexdigest;
